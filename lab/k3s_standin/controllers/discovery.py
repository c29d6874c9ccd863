"""Kind -> resource lookup through the API's discovery documents, as `kubectl apply` resolves kinds.

Example:
    Resources(api).locate("apps/v1", "Deployment")   # ("deployments", True)
"""

from __future__ import annotations

from k3s_standin.client import ApiError, Client


class UnknownKind(Exception):
    """The API server does not serve this apiVersion/kind."""


class Resources:
    def __init__(self, api: Client) -> None:
        self.api = api
        self.cache: dict[str, dict[str, tuple[str, bool]]] = {}

    def locate(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural resource name, namespaced) of a kind; raises UnknownKind."""
        if api_version not in self.cache:
            url = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                listing = self.api.get(url)
            except ApiError as error:
                if error.code != 404:
                    raise
                raise UnknownKind(f'no matches for kind "{kind}" in version "{api_version}"') from error
            self.cache[api_version] = {item["kind"]: (item["name"], bool(item.get("namespaced")))
                                       for item in listing.get("resources") or [] if "/" not in item["name"]}
        found = self.cache[api_version].get(kind)
        if found is None:
            raise UnknownKind(f'no matches for kind "{kind}" in version "{api_version}"')
        return found
