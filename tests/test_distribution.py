"""Training on several devices and machines: which strategy each option picks, mirrored training
on a CPU split into two devices (TensorFlow and JAX) matching one device, a two-worker run on
localhost, mixed precision, and `nnkit env`."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import USER_ENVIRONMENT, data_dir, epochs_logged, free_ports, run_in_process, run_nnkit, wait_for_an_epoch
from nnkit.distribution import Plan, choose_plan, parse_devices, read_cluster, write_cluster
from nnkit.errors import UsageError

# LeNet-5 without dropout or batch norm: dropout draws its masks and batch norm keeps its moving
# statistics per replica, so only a model without them can
# match one-device training number for number.
SMALL_LENET = ["--model", "lenet5", "--batch-size", "32", "--set", "data.train_limit=1200",
               "--set", "data.test_limit=300", "--set", "model.dropout=0", "--set", "model.batch_norm=false",
               "--set", "training.schedule=constant",
               "--set", "augmentation.rotation_degrees=0", "--set", "augmentation.shift=0",
               "--set", "augmentation.zoom=0", "--quiet"]
TWO_GPUS = ("gpu:0", "gpu:1")


# --- which strategy ----------------------------------------------------------------------------

def test_auto_picks_multiworker_then_mirrored_then_one_device():
    assert choose_plan("auto", (), "tensorflow", ()).strategy == "default"
    assert choose_plan("auto", (), "tensorflow", ()).devices == ("cpu:0",)
    assert choose_plan("auto", (), "jax", TWO_GPUS).devices == TWO_GPUS
    assert choose_plan("auto", (), "jax", TWO_GPUS).strategy == "mirrored"
    assert choose_plan("auto", ("gpu:1",), "tensorflow", TWO_GPUS).devices == ("gpu:1",)
    assert choose_plan("auto", (), "torch", TWO_GPUS).devices == ("gpu:0",)  # Keras has no torch data parallelism
    workers = choose_plan("auto", (), "tensorflow", (), workers=3, worker_index=2, chief=False)
    assert (workers.strategy, workers.replicas, workers.chief) == ("multiworker", 3, False)
    assert choose_plan("mirrored", ("cpu:0", "cpu:1"), "tensorflow", ()).replicas == 2


@pytest.mark.parametrize("strategy, devices, backend, message", [
    ("mirrored", (), "torch", "needs the TensorFlow or JAX backend"),
    ("multiworker", (), "jax", "needs the TensorFlow backend"),
    ("multiworker", (), "tensorflow", "set TF_CONFIG"),
    ("default", ("cpu:0", "cpu:1"), "tensorflow", "use --strategy mirrored"),
    ("mirrored", ("gpu:2",), "tensorflow", "gpu:2 not found (GPUs here: gpu:0, gpu:1)"),
])
def test_impossible_plans_are_refused(strategy, devices, backend, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose_plan(strategy, devices, backend, TWO_GPUS)


def test_devices_are_named_or_numbered():
    assert parse_devices("0, 1") == TWO_GPUS and parse_devices("CPU:0,cpu:1") == ("cpu:0", "cpu:1")
    assert parse_devices(None) == ()
    for bad, message in [("tpu:0", "not a device"), ("gpu:0,0", "twice"), ("cpu:0,gpu:0", "mixes")]:
        with pytest.raises(UsageError, match=message):
            parse_devices(bad)


def test_cluster_flags_write_tf_config_and_the_chief_saves(monkeypatch):
    # setenv, not delenv: it records an absent variable too, so the undo removes what
    # write_cluster sets (a leaked cluster would send later runs looking for these workers).
    monkeypatch.setenv("TF_CONFIG", "")
    assert read_cluster() == (1, 0, True)
    write_cluster("localhost:1, localhost:2", 1)
    assert read_cluster() == (2, 1, False)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert read_cluster() == (3, 1, False)  # a "chief" entry saves, not worker 0
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UsageError, match="TF_CONFIG is not valid"):
        read_cluster()
    for cluster, index, message in [("a:1,b:1", None, "go together"), ("a:1,b:1", 2, "not in the cluster")]:
        with pytest.raises(UsageError, match=message):
            write_cluster(cluster, index)


@pytest.mark.parametrize("args, message", [
    (["digits", "train", "--strategy", "multiworker"], "needs a cluster of at least 2 workers"),
    (["digits", "train", "--cluster", "localhost:1,localhost:2"], "--cluster and --task-index go together"),
    (["digits", "train", "--devices", "gpu:7"], "gpu:7 not found"),
])
def test_bad_distribution_options_get_one_line(capsys, monkeypatch, args, message):
    monkeypatch.setenv("TF_CONFIG", "")
    done = run_in_process(capsys, *args)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_batch_must_split_evenly_and_stateful_models_stay_on_one_device():
    from nnkit.registry import load_task
    from nnkit.training.run import check_replicas

    four = Plan("mirrored", ("gpu:0", "gpu:1", "gpu:2", "gpu:3"))
    with pytest.raises(UsageError, match="does not split evenly across 4 replicas; make it a multiple of 4"):
        check_replicas(load_task("digits"), {"batch_size": 50}, four)
    check_replicas(load_task("digits"), {"batch_size": 64}, four)
    with pytest.raises(UsageError, match="trains on one device"):
        check_replicas(load_task("lm"), {"batch_size": 64}, four)


# --- training on several devices ---------------------------------------------------------------

@pytest.fixture(scope="module")
def one_device_lenet(tmp_path_factory, mnist_dir):
    # A fresh process, like the runs it is compared with: a model trained in this test process
    # after others starts from other random draws.
    output = tmp_path_factory.mktemp("one-device")
    run_nnkit("digits", "train", *SMALL_LENET, "--epochs", "2", "--output", output, check=True)
    return json.loads((output / "metadata.json").read_text())


def test_mirrored_on_two_cpu_devices_matches_one_device(one_device_lenet, tmp_path):
    output = tmp_path / "mirrored"
    done = run_nnkit("digits", "train", *SMALL_LENET, "--epochs", "2", "--output", output,
                     "--strategy", "mirrored", "--devices", "cpu:0,cpu:1")
    assert done.returncode == 0, done.stderr
    assert "on 2 replica(s)" in done.stdout
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["training"]["distribution"]["strategy"] == "mirrored"
    # The same global batch, split in two, then the gradients summed: the same training up to
    # floating-point summation order.
    np.testing.assert_allclose(metadata["history"]["loss"], one_device_lenet["history"]["loss"], rtol=1e-3)
    assert metadata["metrics"]["test"]["accuracy"] == pytest.approx(one_device_lenet["metrics"]["test"]["accuracy"],
                                                                    abs=0.01)


def start_workers(output, epochs, cluster):
    environment = {**USER_ENVIRONMENT, "NNKIT_DATA_DIR": str(data_dir())}
    environment.pop("TF_CONFIG", None)
    return [subprocess.Popen([sys.executable, "-m", "nnkit.cli", "digits", "train", *SMALL_LENET, "--epochs",
                              str(epochs), "--output", str(output), "--strategy", "multiworker", "--cluster", cluster,
                              "--task-index", str(index)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
            for index in range(2)]


def finished(workers):
    """The workers' standard outputs, once all have exited successfully."""
    try:
        results = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, stderr) in zip(workers, results):
        assert worker.returncode == 0, stderr
    return [stdout for stdout, _ in results]


def test_two_workers_on_localhost_train_one_model(one_device_lenet, tmp_path, mnist_pngs):
    output = tmp_path / "cluster"
    chief_out, other_out = finished(start_workers(output, 2, ",".join(f"localhost:{port}" for port in free_ports(2))))
    metadata = json.loads((output / "metadata.json").read_text())
    digest = metadata["training"]["weights_digest"]
    assert f"Worker 1 of 2 finished (weights digest {digest})" in other_out  # identical weights on both
    assert f"weights digest {digest}" in chief_out
    assert metadata["training"]["distribution"]["replicas"] == 2
    losses = metadata["history"]["loss"]
    assert losses[1] < losses[0]
    # Each worker takes half of every global batch: the same training as one device.
    np.testing.assert_allclose(losses, one_device_lenet["history"]["loss"], rtol=1e-3)
    assert not (output / "workers").exists() and not (output / "backup").exists()
    paths, labels = mnist_pngs
    done = run_in_process(None, "digits", "predict", *paths, "--model-path", output, "--json", check=True)
    correct = sum(int(result["label"]) == label for result, label in zip(json.loads(done.stdout), labels))
    assert correct >= 12


def test_a_killed_cluster_resumes_from_its_last_epoch_when_both_workers_restart(tmp_path):
    """BackupAndRestore on every worker: kill both after an epoch, start both again, and the
    run goes on from there rather than from the start."""
    output = tmp_path / "cluster"
    cluster = ",".join(f"localhost:{port}" for port in free_ports(2))
    workers = start_workers(output, 3, cluster)
    wait_for_an_epoch(output, workers, timeout=180)
    for worker in workers:
        worker.kill()
        worker.communicate()
    killed_after = len(epochs_logged(output))
    assert 1 <= killed_after < 3 and not (output / "model.keras").exists()
    assert (output / "backup").is_dir() and (output / "workers" / "1").is_dir()

    chief_out, other_out = finished(start_workers(output, 3, cluster))
    assert "Resuming the interrupted run" in chief_out
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["training"]["resumed"] is True
    assert len(metadata["history"]["loss"]) == 3  # every epoch once, across both starts
    assert f"weights digest {metadata['training']['weights_digest']}" in other_out


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_jax_mirrored_on_two_cpu_devices_trains_a_model_tensorflow_loads(tmp_path, mnist_pngs):
    output = tmp_path / "jax-mirrored"
    done = run_nnkit("digits", "train", *SMALL_LENET, "--epochs", "1", "--output", output,
                     "--strategy", "mirrored", "--devices", "cpu:0,cpu:1", "--precision", "mixed_bfloat16",
                     env={"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"})
    assert done.returncode == 0, done.stderr
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["versions"]["backend"] == "jax"
    assert metadata["training"]["distribution"]["replicas"] == 2
    assert metadata["metrics"]["test"]["accuracy"] > 0.5
    paths, labels = mnist_pngs
    predicted = run_in_process(None, "digits", "predict", *paths, "--model-path", output, "--json", check=True)
    correct = sum(int(result["label"]) == label for result, label in zip(json.loads(predicted.stdout), labels))
    assert correct >= 10  # trained in bfloat16 on JAX, read back by TensorFlow


def test_mixed_precision_computes_in_16_bits_and_saves_a_working_model(tmp_path, mnist_pngs, capsys):
    import keras

    output = tmp_path / "mixed"
    run_in_process(capsys, "digits", "train", *SMALL_LENET, "--epochs", "1", "--output", output,
                   "--precision", "mixed_bfloat16", "--no-jit", check=True)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is put back
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["training"]["distribution"]["precision"] == "mixed_bfloat16"
    assert metadata["metrics"]["test"]["accuracy"] > 0.5
    model = keras.saving.load_model(output / "model.keras", compile=False)
    policies = {layer.dtype_policy.name for layer in model.layers if layer.weights}
    # The output layer stays float32 on purpose (a 16-bit softmax loses precision).
    assert "mixed_bfloat16" in policies and all(weight.dtype == "float32" for weight in model.weights)


def test_env_says_backend_devices_and_the_auto_strategy(capsys):
    done = run_in_process(capsys, "env", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["versions"]["backend"] == "tensorflow" and "cpu:0" in found["devices"]
    assert found["auto_strategy"]["strategy"] in ("default", "mirrored")
