"""Model builders: backbones from the CNN/RNN curriculum and the heads that turn them into tasks.
This file stays free of Keras, so that the CLI can list the choices below without loading it."""

# The recurrent cells every recurrent builder offers (nnkit.models.recurrent builds them).
CELL_TYPES = ("elman", "jordan", "gru", "lstm")

# The image classifiers' options (nnkit.models.vision builds them; the config rules list them).
INPUT_NORMALIZATIONS = ("rescale", "contrast")  # pixels / 255, or per image: paper 0, ink positive
PADDINGS = ("same", "valid")
POOLINGS = ("max", "average")
FILL_MODES = ("constant", "nearest", "reflect", "wrap")  # what fills the corners augmentation uncovers

# The encoder-decoders' cells and attention scores (nnkit.models.seq2seq builds them; translation
# and captioning offer them).
SEQ2SEQ_CELLS = ("gru", "lstm")
ATTENTIONS = ("bahdanau", "luong", "none")  # additive, multiplicative, or none
