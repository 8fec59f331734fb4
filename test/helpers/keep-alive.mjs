// Preloaded into a worker by fork-worker.ts: a pending timer keeps its event loop alive, as an
// asynchronous stage would, so only the worker's own handler can end it when its parent dies.
setInterval(() => {}, 1000);
