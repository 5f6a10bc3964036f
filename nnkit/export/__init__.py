"""`export`: the inference graphs a task hands over (graphs.py) and the file formats they are written in and checked with (formats.py: SavedModel, ONNX, LiteRT)."""
