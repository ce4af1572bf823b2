"""A plain Ray Tune script over a per-layer architecture space, with canao's searcher and trainable.

    python experiments/tune_param_space.py [--num-samples 6] [--backend tvm] [--out DIR]

The ``param_space`` is what a Tune user writes: ``tune.choice`` for the depth and, in a
list with one entry per layer, for each layer's heads and FFN width (Ray's own
OptunaSearch cannot convert lists; ``ConstrainedOptunaSearch`` samples them define-by-run
under the names Ray gives nested parameters, ``layers/0/num_heads``). Layers past the
sampled depth are sampled too, as in any static Tune space, and left out of the
architecture; a point that names an architecture already evaluated is not trained again.
``train_candidate`` measures each candidate's compiled latency, then trains it on the
embedded task (no data files, no network) and reports every epoch.
"""

from __future__ import annotations

import argparse
import tempfile

import optuna
import yaml
from ray import tune

from canao_ray import ConstrainedOptunaSearch, ParetoASHA, SearchConfig, train_candidate
from canao_ray.keys import EPOCH, MODES, OBJECTIVES
from device_profilers import running_broker
from search_spaces import Arch

#: Depth first, then one entry per layer: heads and FFN width of each, over a shared hidden size.
PARAM_SPACE = {
    "hidden_size": 64,
    "head_dim": 16,
    "num_layers": tune.choice([1, 2, 3]),
    "layers": [{"num_heads": tune.choice([2, 4]), "intermediate_size": tune.choice([64, 128])} for _ in range(3)],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-samples", type=int, default=6)
    parser.add_argument("--backend", default="tvm", help="tvm (default) or ort")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--num-train", type=int, default=None, help="training examples (default: the whole task)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None, help="tuning database and latency cache (default: temporary)")
    parser.add_argument("--out", default=None, help="Tune's storage path (default: a temporary directory)")
    parser.add_argument(
        "--protocol", type=yaml.safe_load, default={}, help="measurement protocol fields to change, as YAML"
    )
    args = parser.parse_args(argv)
    settings = SearchConfig.from_dict(
        {
            "task": {"num_train": args.num_train},
            "training": {"epochs": args.epochs},
            "scheduler": {"grace_period": 1},
            "latency": {
                "backend": args.backend,
                "budget_ms": 50.0,
                "tuning": {"trials_per_task": 4},
                "protocol": args.protocol,
            },
            "cache_dir": args.cache_dir or tempfile.mkdtemp(prefix="tune-space-cache-"),
        }
    )
    tuner = tune.Tuner(
        tune.with_parameters(train_candidate, settings=settings),
        param_space=PARAM_SPACE,
        tune_config=tune.TuneConfig(
            search_alg=ConstrainedOptunaSearch(
                metric=list(OBJECTIVES),
                mode=list(MODES),
                sampler=optuna.samplers.TPESampler(seed=args.seed),
                num_samples=args.num_samples,
            ),
            scheduler=ParetoASHA(OBJECTIVES, MODES, EPOCH, max_t=args.epochs, grace_period=1),
            num_samples=args.num_samples,
        ),
        run_config=tune.RunConfig(name="tune-param-space", storage_path=args.out or tempfile.mkdtemp(), verbose=0),
    )
    lat = settings.latency
    with running_broker([lat.make_device()], str(settings.resolved_cache_dir()), lat.tuning, lat.protocol):
        results = tuner.fit()
    for result in results:
        m = result.metrics
        print(
            f"{Arch.from_dict(result.config).key}: score {m.get('score', 0):.3f}, "
            f"latency {m.get('latency_ms', 0):.3f} ms, epochs {m.get('epoch')}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
