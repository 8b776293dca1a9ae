// Starts the Go/WASM client. The page is already complete without it: the
// server rendered the first rows, and the client only keeps them live.
//
// The page names the WASM file in this script tag's data-wasm attribute, as
// a content-hashed URL the browser may cache for good; the plain name is
// the fallback for pages that do not.
//
// A page that names its session stream (data-stream) has it opened here,
// at once: the server builds its snapshot while the client downloads and
// compiles, and the client adopts the socket and the frames that arrived
// (porticoEarly).
(async (wasmURL) => {
  const status = document.getElementById("stream-status");
  const streamed = document.querySelector("[data-stream]");
  if (streamed && "WebSocket" in window) {
    const path = streamed.dataset.stream;
    const url = new URL(path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const early = { path, ws: new WebSocket(url), frames: [], closed: false };
    early.onFrame = (data) => early.frames.push(data);
    early.ws.addEventListener("message", (e) => early.onFrame(e.data));
    early.ws.addEventListener("close", () => { early.closed = true; });
    window.porticoEarly = early;
  }
  try {
    const go = new Go();
    const wasm = await WebAssembly.instantiateStreaming(fetch(wasmURL), go.importObject);
    // Tests measure the client's memory through
    // porticoWasm.exports.mem.buffer.byteLength.
    window.porticoWasm = wasm.instance;
    go.run(wasm.instance);
  } catch (err) {
    console.error("portico: the live client failed to start", err);
    if (status) {
      status.dataset.state = "offline";
      status.textContent = "offline (client failed to load)";
    }
  }
})(document.currentScript?.dataset.wasm || "/static/portico.wasm");
