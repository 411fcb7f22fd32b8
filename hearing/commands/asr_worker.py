"""`courtroom asr-worker`: a Whisper worker of the pool that transcribes the live hearings of
nodes running with ``asr_mode = "workers"`` (asr/worker.py). Start as many as the load needs,
on CPU or GPU machines that reach the NATS server; each loads one model."""

from __future__ import annotations

import asyncio
import sys

from hearing import logs
from hearing.commands.common import config_from, fail


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("asr-worker", help="transcribe live hearings for the nodes of a court "
                       "(a Whisper worker fed over NATS JetStream)")
    p.add_argument("--nats-url", help="the court's NATS server (default: nats_url of the "
                   "configuration, else nats://127.0.0.1:4222)")
    p.add_argument("--bus-prefix", help="the court's bus_prefix, as on its nodes (default: "
                   "bus_prefix of the configuration, courtroom)")
    p.add_argument("--device", help="cpu or cuda (default: asr_device, cpu)")
    p.add_argument("--compute-type", help="CTranslate2 compute type (default: "
                   "asr_compute_type, int8)")
    p.add_argument("--model-dir", help="a CTranslate2 Whisper directory (default: "
                   "asr_model_dir, else the bundled base model)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    p.add_argument("--max-streams", type=int, default=16,
                   help="sources transcribed at once (default 16)")
    p.add_argument("--max-batch", type=int, default=4, help="requests decoded together")
    p.add_argument("--lanes", type=int, default=1,
                   help="decode batches run side by side, each on a model replica "
                   "(SchedulerOptions.lanes); one by default: the pool spreads streams over "
                   "workers, and a machine may run several")
    p.add_argument("--metrics-port", type=int, help="its /metrics port (default: "
                   "metrics_port of the configuration; 0: none)")
    p.add_argument("--worker-id", default="", help="name in the leases (default: node_id of "
                   "the configuration, else random)")
    p.set_defaults(func=run)


def run(args) -> int:  # noqa: ANN001
    from asr.model import ModelError, ModelOptions
    from asr.scheduler import SchedulerOptions
    from asr.worker import WorkerOptions, serve
    from hearing.bus import prefix_problem
    from hearing.config import weak_languages
    cfg = config_from(args)
    logs.setup(cfg.log_format, cfg.log_level)
    prefix = args.bus_prefix or cfg.bus_prefix
    if problem := prefix_problem(prefix):
        return fail(f"asr-worker: bus_prefix: {problem}", 2)
    model = ModelOptions(model_dir=args.model_dir or cfg.asr_model_dir or None,
                         device=args.device or cfg.asr_device,
                         compute_type=args.compute_type or cfg.asr_compute_type,
                         cpu_threads=args.threads,
                         weak_languages=weak_languages(cfg.asr_weak_languages))
    options = WorkerOptions(nats_url=args.nats_url or cfg.nats_url or "nats://127.0.0.1:4222",
                            prefix=prefix,
                            worker_id=args.worker_id or cfg.node_id, max_streams=args.max_streams,
                            scheduler=SchedulerOptions(model=model, max_batch=args.max_batch,
                                                       lanes=args.lanes))

    metrics_port = cfg.metrics_port if args.metrics_port is None else args.metrics_port

    def ready(worker) -> None:  # noqa: ANN001
        if metrics_port:
            from hearing.asr_workers import serve_worker_metrics
            try:
                serve_worker_metrics(worker, cfg.metrics_host, metrics_port)
            except OSError as exc:  # the port is taken: transcribe all the same
                print(f"courtroom: asr-worker: no metrics on {cfg.metrics_host}:"
                      f"{metrics_port} ({exc.strerror or exc})", file=sys.stderr, flush=True)
        print(f"asr worker {worker.worker_id} ready: {worker.scheduler.model_label} on "
              f"{model.device}, NATS {options.nats_url} ({prefix})", flush=True)
    try:
        asyncio.run(serve(options, ready))
    except ModelError as exc:
        return fail(f"asr-worker: {exc}", 2)
    except RuntimeError as exc:  # NATS unreachable
        return fail(f"asr-worker: {exc}", 2)
    return 0
