"""Scores for slot filling and intent detection, the way the ATIS literature reports them.

Slot precision/recall/F1 are over whole spans, CoNLL style (a slot counts only when its type
and every word of it are right), computed by seqeval; intent accuracy is exact label match;
sentence accuracy needs every tag and the intent right.
"""


def _scalar(value):
    return round(float(value), 6)


def slot_metrics(gold_tags, predicted_tags, gold_intents, predicted_intents, known_tags=(), known_intents=()):
    """Metrics as a JSON-able dict. Gold labels the model never saw in training (`known_*`) are
    listed under `unseen`: they are scored as they are, that is, as misses."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    if len(gold_tags) != len(predicted_tags) or len(gold_intents) != len(predicted_intents):
        raise ValueError("gold and predicted sequences differ in number")
    for gold, predicted in zip(gold_tags, predicted_tags):
        if len(gold) != len(predicted):
            raise ValueError(f"{len(predicted)} predicted tags for a sentence of {len(gold)} words")
    per_slot = classification_report(gold_tags, predicted_tags, output_dict=True, zero_division=0)
    slots = {name: {"precision": _scalar(row["precision"]), "recall": _scalar(row["recall"]),
                    "f1": _scalar(row["f1-score"]), "support": int(row["support"])}
             for name, row in per_slot.items() if not name.endswith(" avg")}
    intent_right = [gold == predicted for gold, predicted in zip(gold_intents, predicted_intents)]
    sentence_right = [intent and gold == predicted
                      for intent, gold, predicted in zip(intent_right, gold_tags, predicted_tags)]
    count = max(len(gold_tags), 1)
    known_tags, known_intents = set(known_tags), set(known_intents)
    return {
        "slot_precision": _scalar(precision_score(gold_tags, predicted_tags, zero_division=0)),
        "slot_recall": _scalar(recall_score(gold_tags, predicted_tags, zero_division=0)),
        "slot_f1": _scalar(f1_score(gold_tags, predicted_tags, zero_division=0)),
        "intent_accuracy": _scalar(sum(intent_right) / count),
        "sentence_accuracy": _scalar(sum(sentence_right) / count),
        "sentences": len(gold_tags),
        "per_slot": slots,
        "unseen": {
            "tags": sorted({tag for tags in gold_tags for tag in tags} - known_tags) if known_tags else [],
            "intents": sorted(set(gold_intents) - known_intents) if known_intents else [],
        },
    }


def format_slot_report(metrics, per_slot=True):
    lines = [
        f"slot F1 {100 * metrics['slot_f1']:.2f}  (precision {100 * metrics['slot_precision']:.2f}, "
        f"recall {100 * metrics['slot_recall']:.2f})",
        f"intent accuracy {100 * metrics['intent_accuracy']:.2f}%",
        f"sentence accuracy {100 * metrics['sentence_accuracy']:.2f}%  ({metrics['sentences']} sentences)",
    ]
    unseen = metrics["unseen"]
    for kind in ("tags", "intents"):
        if unseen[kind]:
            lines.append(f"note: {len(unseen[kind])} gold {kind} never seen in training count as misses: "
                         + ", ".join(unseen[kind]))
    if per_slot:
        lines += ["", f"{'slot':34s} {'precision':>9s} {'recall':>7s} {'f1':>7s} {'support':>8s}"]
        for name, row in sorted(metrics["per_slot"].items(), key=lambda item: -item[1]["support"]):
            lines.append(f"{name:34s} {100 * row['precision']:9.2f} {100 * row['recall']:7.2f} "
                         f"{100 * row['f1']:7.2f} {row['support']:8d}")
    return "\n".join(lines)
