"""Classification metrics, their text tables, and the PNG plots `evaluate` can write."""

import numpy as np

from nnkit.saving import atomic_path


def classification_metrics(y_true, y_pred, class_names):
    """Accuracy, per-class precision / recall / F1 / support, and the confusion matrix."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    count = len(class_names)
    confusion = np.zeros((count, count), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    true_positive = np.diag(confusion).astype(float)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros(count), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros(count), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(count), where=both > 0)
    per_class = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(actual[i])}
        for i, name in enumerate(class_names)
    }
    return {
        "accuracy": float(true_positive.sum() / max(1, len(y_true))),
        "examples": int(len(y_true)),
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
    }


def format_classification_report(metrics):
    lines = [f"accuracy: {metrics['accuracy']:.4f} on {metrics['examples']} test examples", ""]
    lines.append(f"{'class':>10} {'precision':>10} {'recall':>10} {'f1':>10} {'support':>8}")
    for name, row in metrics["per_class"].items():
        lines.append(f"{name:>10} {row['precision']:>10.4f} {row['recall']:>10.4f} {row['f1']:>10.4f} {row['support']:>8}")
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(confusion, class_names, path):
    plt = _pyplot()
    confusion = np.asarray(confusion)
    figure, axes = plt.subplots(figsize=(1 + 0.6 * len(class_names), 0.6 * len(class_names)))
    image = axes.imshow(np.log1p(confusion), cmap="Blues")
    for (row, col), value in np.ndenumerate(confusion):
        if value:
            color = "white" if confusion[row, col] > confusion.max() / 3 else "black"
            axes.text(col, row, str(value), ha="center", va="center", fontsize=7, color=color)
    axes.set(xticks=range(len(class_names)), yticks=range(len(class_names)),
             xticklabels=class_names, yticklabels=class_names,
             xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    figure.colorbar(image, ax=axes, label="log(1 + count)")
    _save(figure, path)


def plot_learning_curves(history, path):
    """Loss and every other metric per epoch, training and validation side by side; metrics
    measured on validation data only (a task's epoch metrics, such as slot F1) get a panel too."""
    plt = _pyplot()
    names = [key for key in history if not key.startswith("val_") and key not in ("epoch", "learning_rate")]
    names += [key[4:] for key in history if key.startswith("val_") and key[4:] not in history]
    if not names:
        raise ValueError("no training history recorded")
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in history:
                axis.plot(range(1, len(history[key]) + 1), history[key], label=label)
        axis.set(title=name, xlabel="epoch")
        axis.xaxis.get_major_locator().set_params(integer=True)  # no "epoch 2.5"
        axis.legend()
    _save(figure, path)


def _save(figure, path):
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    _pyplot().close(figure)
