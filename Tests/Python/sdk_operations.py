"""The official `clarifai` SDK's operations against the local server, over one transport:
`sdk_operations.py grpcio|rest|grpc GRPC_TARGET REST_URL APP_ID` prints one JSON line per
operation, {"op", "outcome", "seconds"}, where the outcome leaves out what differs between runs
(request ids, job ids). grpcio is the SDK unchanged; rest and grpc run it through
libclarifai.sdk.patch(). A process per transport: the SDK reads its settings at import and
patch() changes a class of it. The PAT comes from $CLARIFAI_PAT, as the SDK reads it."""
import asyncio
import json
import os
import sys
import tempfile
import time

IMAGE_URL = "https://samples.clarifai.com/metro-north.jpg"
IMAGE_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
# A model folder as `clarifai model upload` takes it: the least the SDK's ModelBuilder needs.
MODEL_PY = """from clarifai.runners.models.model_class import ModelClass


class Echo(ModelClass):
    def load_model(self):
        pass

    @ModelClass.method
    def predict(self, text: str = "") -> str:
        return text
"""
CONFIG_YAML = """model:
  id: upload-echo
  user_id: test-user
  app_id: {app_id}
  model_type_id: text-to-text
inference_compute_info: {{cpu_limit: "1", cpu_memory: 1Gi, num_accelerators: 0}}
build_info: {{python_version: "3.11"}}
"""


def main(transport, grpc_target, rest_url, app_id):
    base_url = "http://" + grpc_target  # the SDK's base is its gRPC target; http:// means cleartext
    if transport != "grpcio":
        import libclarifai.sdk
        libclarifai.sdk.patch(transport="rest", address=rest_url) if transport == "rest" else libclarifai.sdk.patch()

    from clarifai.client.app import App
    from clarifai.client.input import Inputs
    from clarifai.client.model import Model
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2

    ids = dict(user_id="test-user", base_url=base_url)

    def text_input(raw):
        return resources_pb2.Input(data=resources_pb2.Data(text=resources_pb2.Text(raw=raw)))

    def concepts(response):
        [output] = response.outputs
        return [response.status.code, [(c.id, round(c.value, 6)) for c in output.data.concepts[:3]]]

    def general_model():
        return Model(model_id="general-image-recognition", user_id="clarifai", app_id="main", base_url=base_url)

    def app_model(model_id):
        return App(app_id=app_id, **ids).create_model(model_id=model_id, model_type_id="text-to-text")

    def load_info():
        model = general_model()
        model.load_info()
        return [model.model_info.id, model.model_info.model_type_id]

    def session_token():  # the SDK prefers $CLARIFAI_PAT to token=
        pat = os.environ.pop("CLARIFAI_PAT")
        try:
            return [c.id for c in App(app_id=app_id, token="test-session-token", **ids).list_concepts()]
        finally:
            os.environ["CLARIFAI_PAT"] = pat

    def async_predict():
        request = [resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(url=IMAGE_URL)))]
        return concepts(asyncio.run(general_model().async_predict(inputs=request)))

    def create_concepts():
        App(app_id=app_id, **ids).create_concepts(["cat", "dog"], ["Cat", "Dog"])  # raises unless SUCCESS

    def upload(how, **source):
        job, response = getattr(Inputs(app_id=app_id, **ids), how)(**source)
        return [response.status.code, [i.id for i in response.inputs], len(job) > 0]

    def upload_model():
        """ModelBuilder's upload (PostModelVersionsUpload, then GetModelVersion until built),
        without the checks of calls the test server lacks (GetApp, ListLogEntries)."""
        from clarifai.runners.models.model_builder import ModelBuilder
        with tempfile.TemporaryDirectory() as scratch:
            folder = os.path.join(scratch, "model")
            os.makedirs(os.path.join(folder, "1"))
            with open(os.path.join(folder, "config.yaml"), "w") as config:
                config.write(CONFIG_YAML.format(app_id=app_id))
            with open(os.path.join(folder, "requirements.txt"), "w") as requirements:
                requirements.write("clarifai\n")
            with open(os.path.join(folder, "1", "model.py"), "w") as model:
                model.write(MODEL_PY)
            builder = ModelBuilder(folder, download_validation_only=True, pat=os.environ["CLARIFAI_PAT"], base_url=base_url)
            version_id = builder.upload_model_version(show_client_script=False, quiet_build=True)
        version = builder.client.STUB.GetModelVersion(service_pb2.GetModelVersionRequest(
            user_app_id=builder.client.user_app_id, model_id="upload-echo", version_id=version_id or ""))
        return [len(version_id or "") > 0, version.model_version.status.code]

    operations = [
        ("Model.load_info", load_info),
        ("Model.predict_by_url", lambda: concepts(general_model().predict_by_url(IMAGE_URL, input_type="image"))),
        ("Model.predict_by_bytes", lambda: concepts(general_model().predict_by_bytes(IMAGE_BYTES, input_type="image"))),
        ("App.list_models", lambda: sorted(m.id for m in App(app_id=app_id, **ids).list_models(only_in_app=False))),
        ("Inputs.upload_from_url", lambda: upload("upload_from_url", input_id="by-url", image_url=IMAGE_URL)),
        ("Inputs.upload_from_bytes", lambda: upload("upload_from_bytes", input_id="by-bytes", image_bytes=IMAGE_BYTES)),
        ("App.create_concepts", create_concepts),
        ("App.list_concepts", lambda: [(c.id, c.name) for c in App(app_id=app_id, **ids).list_concepts()]),
        ("Model.generate", lambda: [r.outputs[0].data.text.raw
                                    for r in app_model("stream-count").generate(inputs=[text_input("4")])]),
        ("Model.stream", lambda: [r.outputs[0].data.text.raw
                                  for r in Model(model_id="text-echo", app_id=app_id, **ids).stream(
                                      iter([[text_input("a")], [text_input("b")]]))]),
        ("Model.async_predict", async_predict),
        ("session token", session_token),
        ("ModelBuilder.upload_model_version", upload_model),
    ]
    for name, operation in operations:
        started = time.monotonic()
        try:
            outcome = ["ok", operation()]
        except Exception as error:  # the outcome, compared across transports
            code = error.code() if hasattr(error, "code") and callable(error.code) else None
            outcome = ["failed", type(error).__name__ if code is None else str(code)]
        print(json.dumps({"op": name, "outcome": outcome, "seconds": round(time.monotonic() - started, 2)}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
