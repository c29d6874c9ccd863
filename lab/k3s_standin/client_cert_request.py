"""TLS that asks for a client certificate, names the client CA as the acceptable issuer, and never
refuses the handshake over the certificate: whether it verifies is the x509 authenticator's question,
answered per connection by `verified`.

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiserver pkg/server/options/serving.go and
secure_serving.go (`tlsConfig.ClientAuth = tls.RequestClientCert` once a client CA is set: "Populate
PeerCertificates in requests, but don't reject connections without certificates"),
pkg/server/dynamiccertificates/tlsconfig.go (`syncCert`: `ClientCAs` is the client CA bundle, so Go's
crypto/tls lists its subjects in the CertificateRequest), pkg/authentication/request/x509/x509.go
(`AuthenticateRequest`: `PeerCertificates[0].Verify` against the client CA with the ClientAuth key usage).

Clients send their certificate whatever the list says: OpenSSL's (Python's ssl, curl) always, and
kubectl too (client-go's transport sets `tls.Config.GetClientCertificate`, staging/src/k8s.io/client-go
transport/transport.go, which skips crypto/tls's acceptable-CA filter `SupportsCertificate`); seen with
kubectl v1.37.1 here. So an unknown certificate reaches the authenticator, which refuses it (401).

Python's ssl offers OpenSSL's verification only as "refuse the handshake" (CERT_OPTIONAL/REQUIRED)
and no way to set the acceptable-CA list, so this module reaches OpenSSL through ctypes, in the same
libssl the `_ssl` module uses: a verify callback that accepts (OpenSSL keeps the verification's error
for `SSL_get_verify_result`, per SSL_CTX_set_verify(3)) and `SSL_CTX_set_client_CA_list`. The SSL_CTX
and SSL pointers sit right after the object header of CPython's `_ssl._SSLContext` and after the
socket weakref of `_ssl._SSLSocket` (Modules/_ssl.c `PySSLContext`, `PySSLSocket`); both are checked
against OpenSSL (the context's options, the connection's context) before they are trusted.

Example:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain("serving-kube-apiserver.crt", "serving-kube-apiserver.key")
    request_client_cert(context, "client-ca.crt")
    ...
    connection.do_handshake()            # completes with any client certificate, or none
    verified(connection)                 # True only for one the client CA signed
"""

from __future__ import annotations

import _ssl
import ctypes
import ssl
from typing import Any

SSL_VERIFY_PEER = 0x01
X509_V_OK = 0
POINTER_SIZE = ctypes.sizeof(ctypes.c_void_p)
# CPython's PyObject_HEAD: what precedes the SSL_CTX* of an SSLContext and the socket weakref of an _SSLSocket
OBJECT_HEADER = object.__basicsize__

VerifyCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def _accept(preverify_ok: int, store: int | None) -> int:
    """Go on with the handshake whatever the verification found (it stays in the verify result)."""
    return 1


ACCEPT_ANY = VerifyCallback(_accept)  # module level: OpenSSL keeps the pointer for the context's life


def _libssl() -> ctypes.CDLL:
    """The libssl `_ssl` is linked against (never another copy found on the path)."""
    library = ctypes.CDLL(getattr(_ssl, "__file__", None))
    library.SSL_CTX_get_options.restype = ctypes.c_uint64
    library.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
    library.SSL_CTX_set_verify.restype = None
    library.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, VerifyCallback]
    library.SSL_load_client_CA_file.restype = ctypes.c_void_p
    library.SSL_load_client_CA_file.argtypes = [ctypes.c_char_p]
    library.SSL_CTX_set_client_CA_list.restype = None
    library.SSL_CTX_set_client_CA_list.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    library.SSL_get_SSL_CTX.restype = ctypes.c_void_p
    library.SSL_get_SSL_CTX.argtypes = [ctypes.c_void_p]
    library.SSL_get_verify_result.restype = ctypes.c_long
    library.SSL_get_verify_result.argtypes = [ctypes.c_void_p]
    return library


LIBSSL = _libssl()


def _ssl_ctx(context: ssl.SSLContext) -> int:
    pointer = ctypes.c_void_p.from_address(id(context) + OBJECT_HEADER).value
    if not pointer or LIBSSL.SSL_CTX_get_options(pointer) != context.options:
        raise RuntimeError("cannot reach the OpenSSL context of this Python's ssl.SSLContext")
    return pointer


def request_client_cert(context: ssl.SSLContext, client_ca_file: str) -> None:
    """Make a server context ask for a client certificate issued by `client_ca_file`'s CA and accept
    the handshake with any certificate or none (Go's `tls.RequestClientCert` with `ClientCAs`)."""
    context.load_verify_locations(client_ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    pointer = _ssl_ctx(context)
    # CPython keeps an installed callback when verify_mode is set again (_ssl.c `_set_verify_mode`)
    LIBSSL.SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER, ACCEPT_ANY)
    names = LIBSSL.SSL_load_client_CA_file(client_ca_file.encode())
    if not names:
        raise ssl.SSLError(f"no CA certificate in {client_ca_file}")
    LIBSSL.SSL_CTX_set_client_CA_list(pointer, names)  # takes ownership of the list


def verified(connection: Any) -> bool:
    """Whether the connection's client certificate chains to the client CA, is within its validity
    and allows client authentication (OpenSSL's verification with the `sslclient` purpose, as Go's
    `Verify` with `ExtKeyUsageClientAuth`); False without a certificate."""
    sslobj = getattr(connection, "_sslobj", None)
    if sslobj is None or connection.getpeercert(binary_form=True) is None:
        return False
    pointer = ctypes.c_void_p.from_address(id(sslobj) + OBJECT_HEADER + POINTER_SIZE).value
    if not pointer or LIBSSL.SSL_get_SSL_CTX(pointer) != _ssl_ctx(connection.context):
        raise RuntimeError("cannot reach the OpenSSL connection of this Python's ssl.SSLSocket")
    return LIBSSL.SSL_get_verify_result(pointer) == X509_V_OK
