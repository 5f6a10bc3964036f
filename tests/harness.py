"""The checks every model in the catalogue must pass, whatever its task: it trains a step,
saves with its metadata, reloads in this process, and predicts exactly as before."""

import numpy as np

from nnkit.saving import load_model, read_metadata, save_model


def check_save_reload_predict(model, inputs, targets, loss, directory, task="digits"):
    model.compile(optimizer="adam", loss=loss)
    model.fit(inputs, targets, batch_size=len(inputs), epochs=1, verbose=0)
    before = model.predict(inputs, verbose=0)
    save_model(model, directory, {"task": task, "marker": 7})
    reloaded, metadata = load_model(directory, expected_task=task)
    after = reloaded.predict(inputs, verbose=0)
    assert metadata["marker"] == 7 and read_metadata(directory / "model.keras")["marker"] == 7
    if isinstance(before, dict):  # a model with named outputs
        assert before.keys() == after.keys()
        for name in before:
            np.testing.assert_array_equal(before[name], after[name])
    else:
        np.testing.assert_array_equal(before, after)
    return reloaded
