"""The way a picture travels: inputs and their plan, decoding, tiles, one batching rule, a Runtime, blending,
style and SR post-processing, encoding, clips and Ray. Arrays are numpy; no torch. See docs/ARCHITECTURE.md."""
