"""rvoip_sansio.server: registrar and B2BUA cores (pure state machines).

* :class:`Registrar` (RFC 3261 §10.3): ``handle_request(register, source, now) -> Response``,
  ``lookup(aor, now) -> [Binding]``; plug it into a UserAgent with ``ua.serve("REGISTER", r)``.
* :class:`PublicationStore` (RFC 3903 §6): ``handle_request(publish, source, now) -> Response``,
  ``state(resource, event, now) -> [Publication]``; ``ua.serve("PUBLISH", store)``.
* :class:`B2BUA`: bridges each incoming call to an outgoing one chosen by a routing function,
  relaying SDP, progress, answers, re-INVITEs, hangups and failures both ways.
"""

from ._b2bua import B2BUA, Bridge, Route, Router, route_registered, route_to
from ._publish import Publication, PublicationConfig, PublicationStore
from ._registrar import Binding, Flow, Registrar, RegistrarConfig, aor_key

__all__ = ["Registrar", "RegistrarConfig", "Binding", "Flow", "aor_key", "B2BUA", "Bridge", "Route", "Router",
           "route_to", "route_registered", "PublicationStore", "PublicationConfig", "Publication"]
