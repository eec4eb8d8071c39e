"""Batch predictions on Ray Data: a model run over a `ray.data.Dataset` by a pool of actors,
each with one libclarifai client, adding per-row result columns instead of failing the job.

    import ray
    from libclarifai.ray import predict_dataset

    ds = ray.data.from_items([{"url": u} for u in urls])
    out = predict_dataset(ds, "general-image-recognition", user_id="clarifai", app_id="main",
                          num_workers=4, rate_budget=40)   # 40 requests/s for the whole pool
    out.filter(lambda row: row["status_code"] != 10000).show()

Columns added to each row (with `prefix` before each name):
    concepts     list of {"id", "name", "value"} (JSON text with concepts_format="json"); null when the row failed
    top_concept  the name of the concept of highest value; null when none or failed
    status_code  the Clarifai status: 10000 on success, the input's own on failure (30002: its URL
                 could not be downloaded); null when no Clarifai status came back (the input was
                 refused before sending, the request failed in transport)
    error        null on success, else what went wrong

Ray is imported by this module only: `import libclarifai` never needs it (pip install "ray[data]").
Batches are Arrow tables (batch_format="pyarrow"): Ray Data keeps its blocks in Arrow, so they
reach the actor without a pandas conversion, and the columns added have one explicit type in every
batch (an int status_code with nulls stays an int; pandas would make it float64).
"""
from __future__ import annotations

import inspect
import json as _json
import math
import os
import re
import time
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

from ._client import Channel, Client, Input, InputKind, Prediction
from .errors import ApiError, ClarifaiError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow
    import ray.data

__all__ = ["ClarifaiPredictor", "predict_dataset", "RESULT_COLUMNS", "forwarded_environment"]

#: The columns ClarifaiPredictor adds, before `prefix`.
RESULT_COLUMNS = ("concepts", "top_concept", "status_code", "error")
#: The largest batch the API takes in one PostModelOutputs request.
MAX_BATCH_SIZE = 128
_SOURCES = ("url", "data", "text")
#: The driver's variables that the workers get through the map's runtime_env (where the library
#: is, and the channel's and client's defaults). The token is not among them: predict_dataset
#: passes it as a constructor argument rather than showing it in the job's runtime_env.
FORWARDED_VARIABLES = ("LIBCLARIFAI_PATH", "CLARIFAI_API_BASE", "CLARIFAI_GRPC_BASE", "CLARIFAI_USER_ID",
                       "CLARIFAI_APP_ID", "CLARIFAI_ROOT_CERTIFICATES_PATH")

Workers = Union[int, Tuple[int, int]]


def _check_options(model_id: str, column: str, source: str, channel: str, batch_size: int, concurrency: int,
                   rate_budget: Optional[float], num_workers: Optional[Workers], concepts_format: str,
                   input_kind: Optional[str] = None) -> None:
    """Raises ValueError for settings no batch could run with (in the driver, before any actor)."""
    if not isinstance(model_id, str) or not model_id:
        raise ValueError("model_id: a non-empty model id")
    if not isinstance(column, str) or not column:
        raise ValueError("column: the name of the input column")
    if source not in _SOURCES:
        raise ValueError(f"source {source!r}: one of {', '.join(_SOURCES)}")
    if not (input_kind is None or isinstance(input_kind, InputKind) or str(input_kind).upper() in InputKind.__members__):
        raise ValueError(f"input_kind {input_kind!r}: one of image, text, video, audio")
    if channel not in Channel.KINDS:
        raise ValueError(f"channel {channel!r}: one of {', '.join(Channel.KINDS)}")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size: 1 to {MAX_BATCH_SIZE} inputs per request, got {batch_size!r}")
    if not isinstance(concurrency, int) or not 1 <= concurrency <= 1024:
        raise ValueError(f"concurrency: 1 to 1024 requests in flight per worker, got {concurrency!r}")
    if concepts_format not in ("list", "json"):
        raise ValueError(f"concepts_format {concepts_format!r}: list or json")
    if rate_budget is not None:
        if not (isinstance(rate_budget, (int, float)) and rate_budget > 0 and math.isfinite(rate_budget)):
            raise ValueError(f"rate_budget: requests per second for all workers together, got {rate_budget!r}")
        if num_workers is None:
            raise ValueError("rate_budget needs num_workers (the size of the actor pool, or its (min, max)): "
                             "each worker takes rate_budget / num_workers")
    if num_workers is not None:
        _max_workers(num_workers)


def _max_workers(num_workers: Workers) -> int:
    """The largest number of actors of a pool of `num_workers` (n, or (min, max) for an autoscaling one)."""
    if isinstance(num_workers, int) and not isinstance(num_workers, bool) and num_workers >= 1:
        return num_workers
    if (isinstance(num_workers, tuple) and len(num_workers) == 2 and all(isinstance(n, int) for n in num_workers)
            and 1 <= num_workers[0] <= num_workers[1]):
        return num_workers[1]
    raise ValueError(f"num_workers: a pool size >= 1, or (min, max) with 1 <= min <= max, got {num_workers!r}")


class ClarifaiPredictor:
    """A callable class for `Dataset.map_batches(ClarifaiPredictor, batch_format="pyarrow",
    fn_constructor_kwargs={...})`: each actor makes one Channel and one Client in __init__ and
    runs `model_id` over the `column` of every batch with Client.predict_many, adding the
    RESULT_COLUMNS (see the module). A row that fails gets its status and error; the batch never
    raises for it.

    column: the input column; `source` tells what it holds: "url" (default), "data" (bytes of an
        image, video or audio) or "text". input_kind: "image", "text", "video" or "audio" (default:
        text for source "text", image otherwise). id_column: a column of input ids to send (optional).
    channel: "json" (REST), "grpc" (TLS) or "grpc_insecure"; address: its base URL or host:port
        (None: the library's default, from $CLARIFAI_API_BASE / $CLARIFAI_GRPC_BASE);
        channel_options: Channel's keyword options (timeout, max_retries, ca_file, ...).
    pat, user_id, app_id: as Client's (None: $CLARIFAI_PAT, $CLARIFAI_USER_ID, $CLARIFAI_APP_ID
        in the worker). version_id: the model version (None: the model's default).
    batch_size: inputs per request (1 to 128); concurrency: requests in flight per worker.
    rate_budget: requests per second for the whole pool; each worker keeps to
        rate_budget / num_workers (the pool's size, or the max of (min, max)), across batches.
        The library also slows down by itself when the server throttles (status 11005) and sends
        the throttled inputs again, so a row never fails of throttling.
    concepts_format: "list" (list<struct<id, name, value>>) or "json" (a JSON text, for CSV).
    prefix: put before each added column's name (a column of that name already in the batch is an
        error rather than overwritten)."""

    def __init__(self, model_id: str, *, column: str = "url", source: str = "url", input_kind: Optional[str] = None,
                 id_column: Optional[str] = None, channel: str = "json", address: Optional[str] = None,
                 channel_options: Optional[Mapping[str, Any]] = None, pat: Optional[str] = None,
                 user_id: Optional[str] = None, app_id: Optional[str] = None, version_id: Optional[str] = None,
                 batch_size: int = 32, concurrency: int = 8, rate_budget: Optional[float] = None,
                 num_workers: Optional[Workers] = None, concepts_format: str = "list", prefix: str = "") -> None:
        _check_options(model_id, column, source, channel, batch_size, concurrency, rate_budget, num_workers,
                       concepts_format, input_kind)
        self.model_id, self.column, self.source, self.input_kind = model_id, column, source, input_kind
        self.id_column, self.version_id = id_column, version_id
        self.batch_size, self.concurrency = batch_size, concurrency
        self.concepts_format, self.prefix = concepts_format, prefix
        #: This worker's share of the budget, in requests per second (None: no limit).
        self.rate: Optional[float] = None if rate_budget is None else rate_budget / _max_workers(num_workers or 1)
        self._next_start = 0.0  # monotonic time before which the next batch's first request must not go
        self.channel = Channel(channel, address, **dict(channel_options or {}))
        self.client = Client(self.channel, pat, user_id, app_id)

    # -- one batch --------------------------------------------------------------------------------

    def __call__(self, batch: "pyarrow.Table") -> "pyarrow.Table":
        import pyarrow as pa

        names = [self.prefix + name for name in RESULT_COLUMNS]
        clash = [name for name in names if name in batch.column_names]
        if clash:
            raise ValueError(f"the dataset already has column(s) {', '.join(clash)}: give ClarifaiPredictor a prefix")
        if self.column not in batch.column_names:
            raise ValueError(f"no input column {self.column!r} (columns: {', '.join(batch.column_names)})")
        values = batch.column(self.column).to_pylist()
        ids = batch.column(self.id_column).to_pylist() if self.id_column else [None] * len(values)
        results: List[Optional[Tuple[Any, Optional[int], Optional[str]]]] = [None] * len(values)
        rows: List[int] = []  # the rows sent
        inputs: List[Input] = []  # and their inputs
        for row, (value, input_id) in enumerate(zip(values, ids)):
            try:
                inputs.append(self._input(value, input_id))
                rows.append(row)
            except ValueError as error:
                results[row] = (None, None, str(error))
        if inputs:
            self._wait_for_rate(len(inputs))
            try:
                for index, outcome in self.client.predict_many(
                        self.model_id, inputs, batch_size=self.batch_size, concurrency=self.concurrency,
                        rate=self.rate, version_id=self.version_id):
                    results[rows[index]] = self._result(outcome)
            except Exception as error:  # the run itself stopped: its rows not reported yet fail with it
                for row in rows:
                    if results[row] is None:
                        results[row] = (None, None, self._message(error))
        concepts: List[Any] = []
        top: List[Optional[str]] = []
        status: List[Optional[int]] = []
        errors: List[Optional[str]] = []
        for result in results:
            if result is None:  # never expected: predict_many reports every input once
                result = (None, None, "no result for this row")
            found, code, message = result
            top.append(max(found, key=lambda c: c["value"])["name"] if found else None)
            if found is not None and self.concepts_format == "json":
                found = _json.dumps(found)
            concepts.append(found)
            status.append(code)
            errors.append(message)
        concept_type = (pa.string() if self.concepts_format == "json" else
                        pa.list_(pa.struct([("id", pa.string()), ("name", pa.string()), ("value", pa.float64())])))
        for name, data, kind in zip(names, (concepts, top, status, errors),
                                    (concept_type, pa.string(), pa.int32(), pa.string())):
            batch = batch.append_column(pa.field(name, kind), pa.array(data, type=kind))
        return batch

    def _input(self, value: Any, input_id: Any) -> Input:
        """The input of a row's value; ValueError when the value cannot be one."""
        if input_id is not None and not isinstance(input_id, str):
            raise ValueError(f"id column {self.id_column!r}: a str, not {type(input_id).__name__}")
        if value is None:
            raise ValueError(f"no input: column {self.column!r} is null")
        if self.source == "data":
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise ValueError(f"column {self.column!r}: bytes for source 'data', not {type(value).__name__}")
            return Input(data=bytes(value), kind=self.input_kind, id=input_id)
        if not isinstance(value, str):
            raise ValueError(f"column {self.column!r}: a str for source {self.source!r}, not {type(value).__name__}")
        if self.source == "text":
            return Input(text=value, kind=self.input_kind, id=input_id)
        return Input(url=value, kind=self.input_kind, id=input_id)

    def _result(self, outcome: Union[Prediction, ClarifaiError]) -> Tuple[Any, Optional[int], Optional[str]]:
        if isinstance(outcome, Prediction):
            concepts = [{"id": c.id, "name": c.name, "value": c.value} for c in outcome.concepts]
            return concepts, outcome.status_code, None
        if isinstance(outcome, ApiError):
            return None, outcome.status_code or None, self._message(outcome)
        return None, None, self._message(outcome)

    @staticmethod
    def _message(error: BaseException) -> str:
        """The error as a row's text: its class and message. The library names an input by its
        place in the batch's request list ("inputs[3].url is empty"), which means nothing in the
        dataset: that place is left out."""
        text = re.sub(r"\binputs\[\d+\]\.", "input.", str(error))
        return text if isinstance(error, ApiError) else f"{type(error).__name__}: {text}"

    def _wait_for_rate(self, count: int) -> None:
        """Keeps the worker's rate across batches: predict_many spaces the requests of one run (one
        batch), this spaces the runs: waits until the previous run's requests would have taken at
        `rate`, then books this one's."""
        if self.rate is None:
            return
        delay = self._next_start - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        requests = math.ceil(count / self.batch_size)
        self._next_start = time.monotonic() + requests / self.rate

    def __repr__(self) -> str:
        rate = "" if self.rate is None else f" rate={self.rate:g}/s"
        return f"<libclarifai.ray.ClarifaiPredictor {self.model_id} column={self.column!r}{rate}>"


def forwarded_environment() -> Dict[str, str]:
    """The driver's FORWARDED_VARIABLES that are set, for the workers' runtime_env."""
    return {name: os.environ[name] for name in FORWARDED_VARIABLES if name in os.environ}


def predict_dataset(ds: "ray.data.Dataset", model_id: str, *, num_workers: Workers = 2,
                    rows_per_call: Optional[int] = None, num_cpus: float = 0.5, **options: Any) -> "ray.data.Dataset":
    """`ds` with the prediction columns of ClarifaiPredictor (see there for `options`: column,
    source, channel, address, pat, user_id, app_id, batch_size, concurrency, rate_budget, ...),
    run by a pool of `num_workers` actors (n, or (min, max) to autoscale; rate_budget is shared
    among the max). Lazy, as any map_batches: nothing runs until the dataset is consumed.

    rows_per_call: the rows an actor gets per call (map_batches' batch_size; default batch_size x
    concurrency, enough for `concurrency` full requests). num_cpus: reserved per actor (the actors
    mostly wait on the network). The token defaults to the driver's $CLARIFAI_PAT, given to the
    actors as a constructor argument; the library's other variables ($LIBCLARIFAI_PATH,
    $CLARIFAI_API_BASE, ...) reach them through the map's runtime_env."""
    import ray.data

    if "num_workers" in options or "fn_constructor_kwargs" in options:
        raise TypeError("predict_dataset: give num_workers once, and ClarifaiPredictor's options as keywords")
    options.setdefault("pat", os.environ.get("CLARIFAI_PAT"))
    batch_size, concurrency = options.get("batch_size", 32), options.get("concurrency", 8)
    _check_options(model_id, options.get("column", "url"), options.get("source", "url"),
                   options.get("channel", "json"), batch_size, concurrency, options.get("rate_budget"),
                   num_workers, options.get("concepts_format", "list"), options.get("input_kind"))
    if rows_per_call is None:
        rows_per_call = batch_size * concurrency
    if not isinstance(rows_per_call, int) or rows_per_call < 1:
        raise ValueError(f"rows_per_call: a number of rows >= 1, got {rows_per_call!r}")
    if isinstance(num_workers, tuple):
        compute = ray.data.ActorPoolStrategy(min_size=num_workers[0], max_size=num_workers[1])
    else:
        compute = ray.data.ActorPoolStrategy(size=num_workers)
    extra: Dict[str, Any] = {}
    environment = forwarded_environment()
    if environment:
        extra["runtime_env"] = {"env_vars": environment}
    if "udf_modifying_row_count" in inspect.signature(ds.map_batches).parameters:  # recent Ray only
        extra["udf_modifying_row_count"] = False  # one row out per row in: lets Ray push a limit() down
    return ds.map_batches(
        ClarifaiPredictor, batch_format="pyarrow", batch_size=rows_per_call, compute=compute, num_cpus=num_cpus,
        fn_constructor_args=(model_id,), fn_constructor_kwargs=dict(options, num_workers=num_workers), **extra)
