// Starts the Go/WASM client. The page is already complete without it: the
// server rendered the first rows, and the client only keeps them live.
(async () => {
  const status = document.getElementById("stream-status");
  try {
    const go = new Go();
    const wasm = await WebAssembly.instantiateStreaming(fetch("/static/portico.wasm"), go.importObject);
    go.run(wasm.instance);
  } catch (err) {
    console.error("portico: the live client failed to start", err);
    if (status) {
      status.dataset.state = "offline";
      status.textContent = "offline (client failed to load)";
    }
  }
})();
