"""A plain Ray Tune script that gains compiler-aware latency from canao-ray.

    python experiments/plain_tune_example.py [--num-samples 6] [--backend tvm] [--out DIR]

The script is what a Tune user already has: a trainable that builds a small BERT
classifier from the sampled config, trains it and reports accuracy; a Tuner with an
Optuna searcher and an early-stopping scheduler. The lines marked ``# canao`` are all it
takes to make the search multi-objective (accuracy up, latency on a real compiled model
down, under a hard budget):

1. start the profiler broker around ``fit`` (``running_broker``);
2. in the trainable, measure the model once with ``measure_model_latency``, skip training
   when it is over the budget, and report ``latency_ms``, the budget constraint and
   ``final``;
3. swap ``OptunaSearch``/``ASHAScheduler`` for ``ConstrainedOptunaSearch``/``ParetoASHA``
   with two metrics;
4. add the ``HypervolumeHistory`` callback.

The task is synthetic so the script runs anywhere: a sequence is positive when token 7
occurs in it more often than token 8, which takes attention over the whole sequence.
"""

from __future__ import annotations

import argparse
import tempfile

import torch
import yaml
from ray import tune
from transformers import BertConfig, BertForSequenceClassification

from canao_ray import CONSTRAINT_KEY, FINAL_KEY, ConstrainedOptunaSearch, HypervolumeHistory, ParetoASHA  # canao
from device_profilers import MeasureProtocol, TuningSettings, local_cpu, measure_model_latency, running_broker  # canao

SEQ_LEN, EPOCHS, STEPS_PER_EPOCH = 16, 3, 30


def batch(generator: torch.Generator, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens 5-12; positive when token 7 occurs more often than token 8 (ties negative)."""
    tokens = torch.randint(5, 13, (size, SEQ_LEN), generator=generator)
    labels = ((tokens == 7).sum(1) > (tokens == 8).sum(1)).long()
    return tokens, labels


def train_classifier(config: dict, backend: str, budget_ms: float) -> None:
    torch.set_num_threads(1)
    model = BertForSequenceClassification(
        BertConfig(
            vocab_size=100,
            hidden_size=config["hidden"],
            num_hidden_layers=config["layers"],
            num_attention_heads=config["heads"],
            intermediate_size=4 * config["hidden"],
            max_position_embeddings=SEQ_LEN,
        )
    )
    latency = measure_model_latency(model, "local-cpu", backend, batch=1, seq_len=SEQ_LEN)  # canao
    measured = {"latency_ms": latency.median_ms, CONSTRAINT_KEY: latency.median_ms - budget_ms}  # canao
    if latency.median_ms > budget_ms:  # canao: over the budget, not worth training
        return tune.report({"accuracy": 0.0, "epoch": 0, **measured, FINAL_KEY: True})
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    dev_tokens, dev_labels = batch(torch.Generator().manual_seed(1), 256)
    for epoch in range(1, EPOCHS + 1):
        model.train()
        for _ in range(STEPS_PER_EPOCH):
            tokens, labels = batch(generator)
            loss = model(input_ids=tokens, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(input_ids=dev_tokens).logits.argmax(-1) == dev_labels).float().mean().item()
        tune.report(
            {"accuracy": accuracy, "epoch": epoch, **measured, FINAL_KEY: epoch == EPOCHS}
        )  # canao: + measured, final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-samples", type=int, default=6)
    parser.add_argument("--backend", default="tvm", help="tvm (default) or ort")
    parser.add_argument("--budget-ms", type=float, default=1.0)
    parser.add_argument(
        "--trials-per-task", type=int, default=4, help="MetaSchedule trials for each new operator shape"
    )
    parser.add_argument(
        "--cache-dir", default=None, help="tuning database and latency cache (default: a temporary directory)"
    )
    parser.add_argument("--out", default=None, help="Tune's storage path (default: a temporary directory)")
    parser.add_argument(
        "--protocol", type=yaml.safe_load, default={}, help="measurement protocol fields to change, as YAML"
    )
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="plain-tune-")
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="plain-tune-cache-")

    space = {"layers": tune.choice([1, 2, 3]), "hidden": tune.choice([32, 64]), "heads": tune.choice([2, 4])}
    metrics, modes = ["accuracy", "latency_ms"], ["max", "min"]  # canao: two objectives
    tuner = tune.Tuner(
        tune.with_parameters(train_classifier, backend=args.backend, budget_ms=args.budget_ms),
        param_space=space,
        tune_config=tune.TuneConfig(
            # canao: was OptunaSearch(metric=..., mode=...)
            search_alg=ConstrainedOptunaSearch(metric=metrics, mode=modes),
            scheduler=ParetoASHA(metrics, modes, max_t=EPOCHS),  # canao: was ASHAScheduler(...)
            num_samples=args.num_samples,
        ),
        run_config=tune.RunConfig(
            name="plain-tune",
            storage_path=out,
            callbacks=[HypervolumeHistory(f"{out}/hypervolume.jsonl", metrics, modes, (0.0, args.budget_ms))],  # canao
        ),
    )
    tuning, protocol = TuningSettings(trials_per_task=args.trials_per_task), MeasureProtocol(**args.protocol)
    with running_broker([local_cpu()], cache_dir, tuning, protocol):  # canao
        results = tuner.fit()
    for result in results:
        m = result.metrics
        print(
            f"{result.config}: accuracy {m.get('accuracy', 0):.3f}, latency {m.get('latency_ms', 0):.3f} ms, epochs {m.get('epoch')}"
        )
    print(f"hypervolume history: {out}/hypervolume.jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
