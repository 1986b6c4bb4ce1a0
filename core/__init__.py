"""percept's foundation, free of torch: the model file header, the zoo, atomic writes, devices, progress,
install hints, version and colour constants. Every other layer may import it; it imports none of them."""
