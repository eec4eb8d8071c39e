"""libclarifai.ray on a real local Ray cluster (ray.init(num_cpus=2)) against the local test server:
predict_dataset over 2,000 rows with a failing input and an invalid one reported per row, and a
global rate budget shared by two workers on a throttling model. Skipped without ray
(pip install -r Tests/Python/requirements-engine.txt)."""
import math
import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pa = pytest.importorskip("pyarrow")

import libclarifai  # noqa: E402
from libclarifai.ray import ClarifaiPredictor, predict_dataset  # noqa: E402
from testserver import clear_predict_stats, predict_stats  # noqa: E402  (on sys.path through conftest)

# Ray's own DataContext warns of its deprecated settings whenever it is read.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")

MODEL = "general-image-recognition"
ROWS = 2000
FAILING_ROW, EMPTY_ROW = 700, 1500  # a URL the server fails (30002), an empty URL the library refuses
SAMPLE = range(0, ROWS, 97)  # the rows compared with Client.predict


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs whose workers import this libclarifai (the source tree's or
    the installed one, as the driver did) and load the same library."""
    package_parent = str(Path(libclarifai.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def url(row):
    return "https://samples.clarifai.com/fail/ray.jpg" if row == FAILING_ROW else \
        "" if row == EMPTY_ROW else f"https://samples.clarifai.com/ray/{row}.jpg"


def by_row(dataset):
    rows = sorted(dataset.take_all(), key=lambda r: r["row"])
    assert [r["row"] for r in rows] == list(range(len(rows)))
    return rows


def test_every_row_comes_back_with_its_own_outcome(server, cluster):
    clear_predict_stats(server.rest_url)
    ds = ray.data.from_items([{"row": i, "url": url(i)} for i in range(ROWS)])
    out = predict_dataset(ds, MODEL, num_workers=2, channel="json", address=server.rest_url, pat=server.token,
                          user_id="test-user", app_id="ray-app", batch_size=32, concurrency=4)
    rows = by_row(out)  # the job ran to its end: a failed row does not fail it
    assert len(rows) == ROWS
    assert set(rows[0]) == {"row", "url", "concepts", "top_concept", "status_code", "error"}

    failing, empty = rows[FAILING_ROW], rows[EMPTY_ROW]
    assert failing["status_code"] == 30002 and failing["concepts"] is None and failing["top_concept"] is None
    assert "Download failed" in failing["error"] and "/fail/ray.jpg" in failing["error"]
    assert empty["status_code"] is None and empty["concepts"] is None
    assert empty["error"] == "InvalidArgumentError: input.url is empty"

    good = [r for r in rows if r["row"] not in (FAILING_ROW, EMPTY_ROW)]
    assert len(good) == ROWS - 2
    for r in good:
        assert r["status_code"] == 10000 and r["error"] is None and r["concepts"], r
        assert r["top_concept"] == max(r["concepts"], key=lambda c: c["value"])["name"]

    # The same concepts, values included, as one predict() of the row's URL.
    with libclarifai.Client(libclarifai.Channel.json(server.rest_url), server.token, "test-user", "ray-app") as client:
        for i in SAMPLE:
            if i in (FAILING_ROW, EMPTY_ROW):
                continue
            expected = [{"id": c.id, "name": c.name, "value": c.value}
                        for c in client.predict(MODEL, url=url(i)).concepts]
            assert rows[i]["concepts"] == expected, i

    stats = predict_stats(server.rest_url)[MODEL]
    sampled = sum(1 for i in SAMPLE if i not in (FAILING_ROW, EMPTY_ROW))
    # every row sent once (the empty URL never left the worker), plus the sample's own predictions
    assert stats["inputs"] == ROWS - 1 + sampled and stats["duplicates"] == sampled
    assert stats["failed_inputs"] == 1 and stats["throttled"] == 0


def test_rate_budget_is_shared_by_the_workers(server, cluster):
    """rate-limited-20 throttles above 20 requests in any second: a budget of 18 over 2 workers
    (9 each, kept across batches) gets every row through with hardly a throttled request, each
    input sent once (the library resends a throttled request itself). (Two workers each evenly at
    10/s can put 22 requests in some second: a budget exactly at the limit is throttled now and
    then, which costs time, never a row.)"""
    model, rows_in, batch_size = "rate-limited-20", 440, 4
    clear_predict_stats(server.rest_url)
    ds = ray.data.from_items([{"row": i, "url": f"https://samples.clarifai.com/rate/{i}.jpg"} for i in range(rows_in)])
    out = predict_dataset(ds, model, num_workers=2, rate_budget=18, channel="grpc_insecure",
                          address=server.grpc_target, pat=server.token, user_id="test-user", app_id="ray-app",
                          batch_size=batch_size, rows_per_call=4 * batch_size)
    rows = by_row(out)
    assert len(rows) == rows_in
    assert [r["status_code"] for r in rows] == [10000] * rows_in, [r["error"] for r in rows if r["error"]][:3]
    stats = predict_stats(server.rest_url)[model]
    assert stats["inputs"] == rows_in and stats["duplicates"] == 0 and stats["failed_inputs"] == 0
    assert stats["requests"] >= math.ceil(rows_in / batch_size) >= 100
    assert stats["throttled"] <= stats["requests"] // 20, stats


def test_predictor_on_one_batch_without_a_cluster(server):
    """The callable itself, on an Arrow table: JSON concepts, a prefix, nulls and wrong types
    reported per row, and the settings checked before any request."""
    predictor = ClarifaiPredictor(MODEL, column="image", address=server.rest_url, pat=server.token,
                                  user_id="test-user", app_id="ray-app", concepts_format="json", prefix="cf_")
    table = pa.table({"image": ["https://samples.clarifai.com/one.jpg", None, "https://x/fail/2.jpg"]})
    out = predictor(table).to_pylist()
    assert out[0]["cf_status_code"] == 10000 and out[0]["cf_error"] is None
    assert '"name"' in out[0]["cf_concepts"] and out[0]["cf_top_concept"]
    assert out[1] == {"image": None, "cf_concepts": None, "cf_top_concept": None, "cf_status_code": None,
                      "cf_error": "no input: column 'image' is null"}
    assert out[2]["cf_status_code"] == 30002
    with pytest.raises(ValueError, match="already has column"):
        predictor(pa.table({"image": ["u"], "cf_error": ["x"]}))
    numbers = ClarifaiPredictor(MODEL, column="n", address=server.rest_url, pat=server.token)
    assert numbers(pa.table({"n": [1]})).to_pylist()[0]["error"] == "column 'n': a str for source 'url', not int"
    for bad in (dict(batch_size=129), dict(batch_size=0), dict(rate_budget=10), dict(rate_budget=10, num_workers=0),
                dict(channel="http"), dict(source="file"), dict(concepts_format="csv"), dict(input_kind="picture")):
        with pytest.raises(ValueError):
            ClarifaiPredictor(MODEL, address=server.rest_url, **bad)
    shared = ClarifaiPredictor(MODEL, address=server.rest_url, pat=server.token, rate_budget=30, num_workers=(1, 3))
    assert shared.rate == 10  # the budget split among the most workers the pool may have
