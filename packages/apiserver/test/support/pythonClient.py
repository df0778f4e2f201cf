"""The official Python client (Debian's python3-kubernetes) against a Lease API server.

Usage: pythonClient.py KUBECONFIG NAMESPACE NAME. Prints one JSON object with what each step saw:
create, replace, replace with a stale resourceVersion, list by label, watch with the client's
watch helper (which sends ?watch=True), delete seen by that watch.
"""
import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

kubeconfig, namespace, name = sys.argv[1:4]
config.load_kube_config(config_file=kubeconfig)
api = client.CoordinationV1Api()
out = {}

created = api.create_namespaced_lease(
    namespace,
    client.V1Lease(
        metadata=client.V1ObjectMeta(name=name, labels={"client": "python", "case": name}),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15),
    ),
)
out["created"] = created.spec.holder_identity

current = api.read_namespaced_lease(name, namespace)
current.spec.holder_identity = "b"
out["replaced"] = api.replace_namespaced_lease(name, namespace, current).spec.holder_identity

created.spec.holder_identity = "stale"
try:
    api.replace_namespaced_lease(name, namespace, created)
    out["stale"] = "accepted"
except ApiException as e:
    out["stale"] = {"status": e.status, "reason": json.loads(e.body).get("reason")}

listed = api.list_namespaced_lease(namespace, label_selector=f"client=python,case={name}")
out["listed"] = [[l.metadata.name, l.spec.holder_identity] for l in listed.items]

events = []
w = watch.Watch()
for event in w.stream(api.list_namespaced_lease, namespace, field_selector=f"metadata.name={name}", timeout_seconds=10):
    events.append([event["type"], event["object"].spec.holder_identity])
    if event["type"] == "ADDED":
        out["deleted"] = api.delete_namespaced_lease(name, namespace).status
    if event["type"] == "DELETED":
        w.stop()
out["events"] = events

print(json.dumps(out))
