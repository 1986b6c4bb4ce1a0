from percept.cli.app import main

main()
