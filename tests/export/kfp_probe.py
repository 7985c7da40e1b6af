"""Run with the Python that has kfp (``.venv-kfp``): load a pipeline YAML with kfp's own loader
and print, as JSON, what the tests check — the pipeline's typed inputs as kfp reads them, and the
PipelineSpec's tasks, components and executors (protobuf as JSON)."""

from __future__ import annotations

import json
import sys

from google.protobuf import json_format
from kfp import components

loaded = components.load_component_from_file(sys.argv[1])
spec = json_format.MessageToDict(loaded.pipeline_spec)
print(
    json.dumps(
        {
            "name": loaded.name,
            "inputs": {
                name: {"type": given.type, "default": given.default}
                for name, given in loaded.component_spec.inputs.items()
            },
            "spec": spec,
        }
    )
)
