"""Task families: what several tasks of one kind share (an image classifier's data, model, predictor and commands)."""
