"""Test doubles and synthetic data shipped with faultmap: what users and tests share.

Code that uses faultmap can be tested without a network, an API key, a model download or
real data:

* :class:`FakeLLM` is an async completion function with scripted replies. Given to
  :class:`~faultmap.llm.LLMClient` (or built into one by :func:`fake_llm_client`), the real
  client code runs against it: timeouts, retries, the concurrency limit, the statistics.
  Only the transport is replaced, so the path to a real provider stays the one in use.
* :class:`FakeSleep` is the client's clock: back-off delays are recorded, never slept.
* :class:`FakeEmbedding` stands in for ``litellm.aembedding`` (for
  :class:`~faultmap.embedding.LiteLLMEmbedder`); :class:`FakeEmbedder` is a tiny local
  embedder whose vectors follow the words of each text.
* :func:`planted_vectors`, :func:`planted_prompts` and :func:`planted_failures` make data
  with failing groups you choose, the same for the same seed.

Only numpy is imported here, and ``import faultmap`` does not import this module; use
``import faultmap.testing``.

Example:
    >>> from faultmap.testing import FakeLLM, fake_llm_client
    >>> fake = FakeLLM('{"name": "Dates"}')
    >>> client = fake_llm_client(fake)
    >>> client.complete_many([[{"role": "user", "content": "name this group"}]])
    ['{"name": "Dates"}']
    >>> fake.prompts
    ['name this group']
"""

from types import FunctionType

from faultmap.testing._embedding import EmbeddingCall, FakeEmbedder, FakeEmbedding
from faultmap.testing._llm import (
    HANG,
    FakeAPIError,
    FakeCall,
    FakeLLM,
    FakeSleep,
    completion_response,
    fake_llm_client,
)
from faultmap.testing._planted import (
    PlantedData,
    planted_failures,
    planted_prompts,
    planted_vectors,
)
from faultmap.testing._topics import PROMPT_TOPICS
from faultmap.testing._topics import topic_pool as _topic_pool  # noqa: F401 (for tests)

__all__ = [
    "HANG",
    "PROMPT_TOPICS",
    "EmbeddingCall",
    "FakeAPIError",
    "FakeCall",
    "FakeEmbedder",
    "FakeEmbedding",
    "FakeLLM",
    "FakeSleep",
    "PlantedData",
    "completion_response",
    "fake_llm_client",
    "planted_failures",
    "planted_prompts",
    "planted_vectors",
]

# The public classes and functions say they come from here (reprs, tracebacks, pickles and
# doctest see ``faultmap.testing.FakeLLM``), wherever in the package they are defined.
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, (type, FunctionType)):
        _value.__module__ = __name__
del _name, _value
