"""The shapes of demo agents: nodes, graph versions and run volumes."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

# Block ids as the AutoGPT platform registers them.
BLOCK_IDS = {
    "AgentInputBlock": "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b",
    "AgentOutputBlock": "363ae599-353e-4804-937e-b2ee3cef3da4",
    "AITextGeneratorBlock": "1f292d4a-41a4-4977-9684-7c8d560b9f91",
    "AIStructuredResponseGeneratorBlock": "ed55ac19-356e-4243-a6cb-bc599e9b716f",
    "AgentExecutorBlock": "e189baac-8c20-45a1-94a7-55177ea42565",
    "SearchTheWebBlock": "87840993-2053-44b7-8da4-187ad4ee518c",
    "SendWebRequestBlock": "6595ae1f-b924-42cb-9a41-551a0611c4b4",
    "FillTextTemplateBlock": "db7d8f02-2f44-4c55-ab7a-eae0941f0c30",
    "ExecuteCodeBlock": "0b02b072-abe7-11ef-8372-fb5d162dd712",
    "GmailReadBlock": "25310c70-b89b-43ba-b25c-4dfa7e2a481c",
    "GmailAddLabelBlock": "f884b2fb-04f4-4265-9658-14f433926ac9",
}


@dataclass(frozen=True)
class Node:
    key: str
    block: str
    description: str
    doing: str  # what the agent is busy with while this node runs, for activity texts


@dataclass(frozen=True)
class Graph:
    id: str
    version: int
    name: str
    description: str
    nodes: tuple[Node, ...]
    links: tuple[tuple[str, str, str, str], ...]  # (source key, pin, sink key, pin)

    @cached_property
    def _by_key(self) -> dict[str, tuple[str, Node]]:
        namespace = uuid.UUID(self.id)
        return {
            node.key: (str(uuid.uuid5(namespace, f"v{self.version}/{node.key}")), node)
            for node in self.nodes
        }

    def node_id(self, key: str) -> str:
        """Return the stable node id of the node named ``key`` in this version."""
        return self._by_key[key][0]

    def node(self, key: str) -> Node:
        """Return the node named ``key``."""
        return self._by_key[key][1]

    def has(self, key: str) -> bool:
        """Tell whether this version has a node named ``key``."""
        return key in self._by_key

    def record(self) -> dict[str, Any]:
        """Return the graph as an import line."""
        return {
            "kind": "graph",
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "nodes": [
                {
                    "id": self.node_id(node.key),
                    "block_id": BLOCK_IDS[node.block],
                    "block_name": node.block,
                    "description": node.description,
                }
                for node in self.nodes
            ],
            "links": [
                {
                    "source_id": self.node_id(source),
                    "sink_id": self.node_id(sink),
                    "source_name": source_pin,
                    "sink_name": sink_pin,
                }
                for source, source_pin, sink, sink_pin in self.links
            ],
        }


@dataclass(frozen=True)
class Agent:
    key: str
    graphs: tuple[Graph, ...]  # oldest version first; the newest takes over mid-period
    weekday_runs: tuple[int, int]
    weekend_runs: tuple[int, int]
    rates: Mapping[str, float]  # share of runs per non-good outcome

    def graph_for(self, day_index: int, days: int) -> Graph:
        """Return the version that ran on the ``day_index``-th of ``days`` days."""
        return self.graphs[-1] if day_index >= days // 2 else self.graphs[0]
