"""Protobuf request bodies as kubectl 1.37's typed clients send them (recorded), decoded to JSON."""

from __future__ import annotations

import pytest

from k3s_standin.apiserver.errors import ApiError
from k3s_standin.apiserver.protobuf import decode

# `kubectl create namespace capns`
NAMESPACE = (b'k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x1d\n\x15\n\x05capns\x12\x00\x1a\x00"\x00*\x002\x008\x00'
             b'B\x00\x12\x00\x1a\x02\n\x00\x1a\x00"\x00')
# `kubectl create secret generic s1 --from-literal=key=value`
SECRET = (b'k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12+\n\x19\n\x02s1\x12\x00\x1a\x07default"\x00*\x002\x008\x00B\x00'
          b'\x12\x0c\n\x03key\x12\x05value\x1a\x00\x1a\x00"\x00')
# `kubectl create service clusterip svc1 --tcp=80:8080`
SERVICE = (b'k8s\x00\n\r\n\x02v1\x12\x07Service\x12s\n(\n\x04svc1\x12\x00\x1a\x07default"\x00*\x002\x008\x00B\x00'
           b'Z\x0b\n\x03app\x12\x04svc1\x12C\n\x1b\n\x0780-8080\x12\x03TCP\x18P"\x07\x08\x00\x10\x90?\x1a\x00(\x00'
           b'\x12\x0b\n\x03app\x12\x04svc1\x1a\x00"\tClusterIP:\x00B\x00R\x00Z\x00`\x00h\x00\x1a\x02\n\x00\x1a\x00"\x00')


def test_namespace_decodes_to_its_json_form():
    assert decode(NAMESPACE) == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "capns"}, "spec": {}}


def test_secret_data_becomes_base64():
    assert decode(SECRET)["data"] == {"key": "dmFsdWU="}


def test_service_port_keeps_numbers_and_int_target_port():
    assert decode(SERVICE)["spec"]["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80,
                                                 "targetPort": 8080}]


def test_a_field_outside_the_known_types_is_refused_not_dropped():
    namespace_with_field_31 = b"k8s\x00\n\x0f\n\x02v1\x12\tNamespace" + b"\x12\x03" + b"\xf8\x01\x01"
    with pytest.raises(ApiError) as error:
        decode(namespace_with_field_31)
    assert error.value.code == 415
