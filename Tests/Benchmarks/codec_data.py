"""Benchmark payloads for the codec, built with the official runtime (clarifai-grpc).

Deterministic (fixed seeds): the same bytes every run, so results are comparable across runs.
  multi_output_response(): clarifai.api.MultiOutputResponse, 128 outputs x 200 concepts each, with
    the fields a real predict response carries (ids, names, values, app_id, status, created_at,
    model with its version, the input with its image url).
  post_model_outputs_request(): clarifai.api.PostModelOutputsRequest with one 5 MiB image as bytes
    (base64 in JSON).
"""
import random

from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2
from google.protobuf import json_format

WORDS = ("person adult woman man child street city building car vehicle road traffic tree nature "
         "outdoors indoors sky cloud water beach sea mountain snow winter summer food drink table "
         "chair room furniture animal dog cat bird horse grass flower garden light night dark sunset "
         "portrait fashion wear music sport ball game travel architecture bridge train station").split()


def _timestamp(message, rng):
    message.seconds = 1_700_000_000 + rng.randrange(30_000_000)
    message.nanos = rng.randrange(1_000_000_000)


def multi_output_response(outputs=128, concepts=200, seed=1):
    rng = random.Random(seed)
    vocabulary = [(f"ai_{rng.randrange(16**8):08x}{i:03d}", name if i < len(WORDS) else f"{name}-{i}")
                  for i, name in ((i, WORDS[i % len(WORDS)]) for i in range(max(concepts, 1) * 2))]
    response = service_pb2.MultiOutputResponse()
    response.status.code = status_code_pb2.SUCCESS
    response.status.description = "Ok"
    response.status.req_id = f"{rng.randrange(16**32):032x}"
    for o in range(outputs):
        output = response.outputs.add()
        output.id = f"{rng.randrange(16**32):032x}"
        output.status.code = status_code_pb2.SUCCESS
        output.status.description = "Ok"
        _timestamp(output.created_at, rng)
        model = output.model
        model.id = "general-image-recognition"
        model.name = "general-image-recognition"
        model.app_id = "main"
        model.user_id = "clarifai"
        model.model_type_id = "visual-classifier"
        model.display_name = "Image Recognition"
        _timestamp(model.created_at, rng)
        _timestamp(model.modified_at, rng)
        version = model.model_version
        version.id = "aa7f35c01e0642fda5cf400f543e7c40"
        version.status.code = status_code_pb2.MODEL_TRAINED
        version.status.description = "Model is trained and ready for deployment"
        version.app_id = "main"
        version.user_id = "clarifai"
        version.active_concept_count = 9_000 + o
        _timestamp(version.created_at, rng)
        version.visibility.gettable = resources_pb2.Visibility.PUBLIC
        output.input.id = f"{rng.randrange(16**32):032x}"
        output.input.data.image.url = f"https://samples.clarifai.com/benchmark/image-{o:04d}.jpg"
        for concept_id, name in rng.sample(vocabulary, concepts):
            concept = output.data.concepts.add()
            concept.id = concept_id
            concept.name = name
            concept.value = rng.random()
            concept.app_id = "main"
    return response


def post_model_outputs_request(image_bytes=5 * 1024 * 1024, seed=2):
    rng = random.Random(seed)
    request = service_pb2.PostModelOutputsRequest()
    request.user_app_id.user_id = "clarifai"
    request.user_app_id.app_id = "main"
    request.model_id = "general-image-recognition"
    request.version_id = "aa7f35c01e0642fda5cf400f543e7c40"
    request_input = request.inputs.add()
    request_input.id = "benchmark-image"
    # A JPEG header then incompressible bytes: what a photo looks like to the codec.
    header = bytes.fromhex("ffd8ffe000104a46494600010101004800480000")
    request_input.data.image.base64 = header + rng.randbytes(image_bytes - len(header))
    request.model.output_info.output_config.max_concepts = 20
    request.model.output_info.output_config.min_value = 0.5
    return request


def to_json(message):
    """The REST form the library also prints: original field names, enum numbers, compact."""
    return json_format.MessageToJson(message, preserving_proto_field_name=True,
                                     use_integers_for_enums=True, indent=None)


CASES = {
    "MultiOutputResponse 128x200": ("clarifai.api.MultiOutputResponse", service_pb2.MultiOutputResponse,
                                    multi_output_response),
    "PostModelOutputsRequest 5 MiB image": ("clarifai.api.PostModelOutputsRequest",
                                            service_pb2.PostModelOutputsRequest, post_model_outputs_request),
}

if __name__ == "__main__":
    for label, (type_name, cls, build) in CASES.items():
        message = build()
        binary, text = message.SerializeToString(), to_json(message)
        assert cls.FromString(binary) == message and json_format.Parse(text, cls()) == message
        print(f"{label}: {type_name}, binary {len(binary):,} B, JSON {len(text):,} B")
