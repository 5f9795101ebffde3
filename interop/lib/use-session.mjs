// Obtain the real `useSession()` value (and so the real `update()` function) of a next-auth
// client without a DOM: render <SessionProvider session={...}><Probe/></SessionProvider> once
// with react-dom/server. The probe component grabs the context value during render.
//
// Why this is faithful: `update(data)` is a closure over the provider's state; with an initial
// `session` prop it starts with loading=false, exactly as in a browser after hydration. Its
// setState calls after rendering are no-ops on the server renderer, which does not matter:
// we only use its network behaviour (csrf fetch + POST /session) and its return value.

import { createElement } from "react";
import { renderToString } from "react-dom/server";

export function captureUseSession({ SessionProvider, useSession }, session) {
  let captured;
  function Probe() {
    captured = useSession();
    return null;
  }
  renderToString(createElement(SessionProvider, { session }, createElement(Probe)));
  if (!captured || typeof captured.update !== "function") {
    throw new Error("could not capture useSession() from SessionProvider");
  }
  return captured;
}
