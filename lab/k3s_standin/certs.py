"""The server's PKI, join token and admin kubeconfig, created once under `<data-dir>/server/` as k3s does.

Upstream: k3s-io/k3s pkg/daemons/control/deps/deps.go (certificates), pkg/clientaccess/token.go (token format).

Certificates are made with the `openssl` CLI (EC P-256 keys, like k3s): a server CA signs the serving
certificate, a client CA signs the admin client certificate and kube-apiserver's client certificate for
kubelets (`client-kube-apiserver.crt`, CN `system:kube-apiserver`, deps.go `genClientCerts`). The
server also keeps `serving-kubelet.key`, the one key every kubelet serving certificate it signs for a
node is issued over (deps.go `genServerCerts`, `ServingKubeletKey`; see `apiserver/node_certs.py`).
The node token has k3s's format `K10<sha256 of the server CA PEM>::server:<password>`.

Example:
    pki = ensure_pki(options, "10.213.0.101")
    token = ensure_token(options, pki)
    write_kubeconfig(options, pki)
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import ipaddress
import os
import secrets
import subprocess
import tempfile

from k3s_standin.options import Options

CA_DAYS = "3650"
LEAF_DAYS = "365"


@dataclasses.dataclass(frozen=True)
class Pki:
    """Paths of the server's certificates and keys."""

    tls_dir: str

    def path(self, name: str) -> str:
        return os.path.join(self.tls_dir, name)

    @property
    def server_ca(self) -> str:
        return self.path("server-ca.crt")

    @property
    def client_ca(self) -> str:
        return self.path("client-ca.crt")

    @property
    def serving_cert(self) -> str:
        return self.path("serving-kube-apiserver.crt")

    @property
    def serving_key(self) -> str:
        return self.path("serving-kube-apiserver.key")

    @property
    def admin_cert(self) -> str:
        return self.path("client-admin.crt")

    @property
    def admin_key(self) -> str:
        return self.path("client-admin.key")

    @property
    def kube_apiserver_cert(self) -> str:
        """kube-apiserver's `--kubelet-client-certificate`."""
        return self.path("client-kube-apiserver.crt")

    @property
    def kube_apiserver_key(self) -> str:
        return self.path("client-kube-apiserver.key")

    @property
    def serving_kubelet_key(self) -> str:
        return self.path("serving-kubelet.key")


def ensure_pki(options: Options, advertised: str) -> Pki:
    """Create missing CAs and leaf certificates; re-issue the serving certificate when its SANs change
    (`advertised` is the address other nodes dial, see `apiserver.advertised_address`)."""
    pki = Pki(os.path.join(options.server_dir, "tls"))
    os.makedirs(pki.tls_dir, mode=0o700, exist_ok=True)
    for ca in ("server-ca", "client-ca"):
        if not os.path.exists(pki.path(f"{ca}.crt")):
            _make_ca(pki, ca)
    if not os.path.exists(pki.admin_cert):
        _make_leaf(pki, "client-ca", "client-admin", "/O=system:masters/CN=system:admin",
                   ["extendedKeyUsage=clientAuth"])
    if not os.path.exists(pki.kube_apiserver_cert):
        _make_leaf(pki, "client-ca", "client-kube-apiserver", "/CN=system:kube-apiserver",
                   ["extendedKeyUsage=clientAuth"])
    if not os.path.exists(pki.serving_kubelet_key):
        _new_key(pki.serving_kubelet_key)
    sans = serving_sans(options, advertised)
    sans_file = pki.path("serving-kube-apiserver.sans")
    if not os.path.exists(pki.serving_cert) or _read(sans_file) != sans:
        _make_leaf(pki, "server-ca", "serving-kube-apiserver", "/O=k3s/CN=kube-apiserver",
                   ["extendedKeyUsage=serverAuth", f"subjectAltName={sans}"])
        _write(sans_file, sans, 0o600)
    return pki


def serving_sans(options: Options, advertised: str) -> str:
    """subjectAltName of the serving certificate: the names and addresses clients dial."""
    names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local", "localhost", options.hostname, options.node_name]
    addresses = ["127.0.0.1", "::1", kubernetes_service_ip(options)]
    for address in (options.node_ip, options.advertise_address, options.bind_address, advertised):
        if address and address not in ("0.0.0.0", "::"):
            addresses.append(address)
    for san in options.tls_san:
        (addresses if _is_ip(san) else names).append(san)
    entries = [f"DNS:{name}" for name in dict.fromkeys(names) if name]
    entries += [f"IP:{address}" for address in dict.fromkeys(addresses)]
    return ",".join(entries)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def kubernetes_service_ip(options: Options) -> str:
    """First address of the service CIDR, reserved for `default/kubernetes`."""
    return str(ipaddress.ip_network(options.service_cidr, strict=False).network_address + 1)


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def _new_key(path: str) -> None:
    key = _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout")
    _write_bytes(path, key, 0o600)


def _make_ca(pki: Pki, name: str) -> None:
    key = pki.path(f"{name}.key")
    _new_key(key)
    subject = f"/CN=k3s-{name}@{int.from_bytes(os.urandom(4), 'big')}"
    _openssl("req", "-x509", "-new", "-key", key, "-days", CA_DAYS, "-subj", subject,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
             "-out", pki.path(f"{name}.crt"))


def _make_leaf(pki: Pki, ca: str, name: str, subject: str, extensions: list[str]) -> None:
    key = pki.path(f"{name}.key")
    _new_key(key)
    _write_bytes(pki.path(f"{name}.crt"), sign(pki, ca, key, subject, extensions), 0o644)


def sign(pki: Pki, ca: str, key: str, subject: str, extensions: list[str]) -> bytes:
    """A PEM certificate for `key`'s public key, signed by the CA named `ca` (`server-ca`, `client-ca`).

    Example:
        pem = sign(pki, "server-ca", pki.serving_kubelet_key, "/CN=k3s-worker-1",
                   ["extendedKeyUsage=serverAuth", "subjectAltName=DNS:k3s-worker-1,IP:10.213.0.111"])
    """
    csr = _openssl("req", "-new", "-key", key, "-subj", subject)
    lines = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
             *extensions]
    with tempfile.NamedTemporaryFile("w", suffix=".ext", dir=pki.tls_dir) as extfile:
        extfile.write("\n".join(lines) + "\n")
        extfile.flush()
        return _openssl("x509", "-req", "-CA", pki.path(f"{ca}.crt"), "-CAkey", pki.path(f"{ca}.key"),
                        "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", LEAF_DAYS,
                        "-extfile", extfile.name, stdin=csr)


def ca_hash(pki: Pki) -> str:
    with open(pki.server_ca, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def token_password(token: str) -> str:
    """The password part of a token: `K10<hash>::server:<password>` or a bare password."""
    if token.startswith("K10") and "::" in token:
        return token.split("::", 1)[1].split(":", 1)[-1]
    return token


class TokenMismatch(RuntimeError):
    """The configured token is not the one the cluster's bootstrap data was encrypted with."""


def ensure_token(options: Options, pki: Pki) -> str:
    """Write `server/token` and `server/node-token` (0600); return the full K10 token.

    A server that has bootstrapped keeps its token for good: k3s encrypts the bootstrap data in its
    datastore with a key derived from the token's password (k3s-io/k3s `pkg/cluster/storage.go`;
    docs.k3s.io/cli/token: "all server nodes must use the same token value once the cluster has been
    started"), so a server started with another token fails with "bootstrap data already found and
    encrypted with different token". The stand-in's bootstrap record is the token it first wrote.

    Raises:
        TokenMismatch: a configured token whose password differs from the bootstrapped one.
    """
    token_file = os.path.join(options.server_dir, "token")
    bootstrapped = token_password(_read(token_file))
    if options.token and bootstrapped and token_password(options.token) != bootstrapped:
        raise TokenMismatch("starting kubernetes: preparing server: "
                            "bootstrap data already found and encrypted with different token")
    password = token_password(options.token) if options.token else bootstrapped
    password = password or secrets.token_hex(16)
    token = f"K10{ca_hash(pki)}::server:{password}"
    for name in ("token", "node-token"):
        _write(os.path.join(options.server_dir, name), token + "\n", 0o600)
    return token


def write_kubeconfig(options: Options, pki: Pki) -> None:
    """The admin kubeconfig k3s writes: cluster `default`, client certificate of `system:admin`."""
    def data(path: str) -> str:
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode()

    text = f"""apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {data(pki.server_ca)}
    server: https://127.0.0.1:{options.https_listen_port}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {{}}
users:
- name: default
  user:
    client-certificate-data: {data(pki.admin_cert)}
    client-key-data: {data(pki.admin_key)}
"""
    directory = os.path.dirname(options.write_kubeconfig)
    if directory:
        os.makedirs(directory, exist_ok=True)
    _write(options.write_kubeconfig, text, options.write_kubeconfig_mode)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def _write(path: str, text: str, mode: int) -> None:
    _write_bytes(path, text.encode(), mode)


def _write_bytes(path: str, data: bytes, mode: int) -> None:
    """Atomic write; the file never exists with wider permissions than `mode`."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
