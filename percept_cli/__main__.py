from percept_cli.app import main

main()
