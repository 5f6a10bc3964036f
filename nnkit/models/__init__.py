"""Model builders: backbones from the CNN/RNN curriculum and the heads that turn them into tasks."""
