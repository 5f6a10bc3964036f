"""Training: the loop every task shares (run.py) and the figures and reports it writes (reports.py)."""

# The optimizers and learning-rate schedules a config may name (training.optimizer, .schedule),
# here without Keras so that the config rules can list them: config name -> keras.optimizers class.
OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}
SCHEDULES = ("cosine", "constant", "plateau")
