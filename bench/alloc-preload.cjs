// Preloaded (`node --require`) into a server under test by bench/alloc.ts:
// SIGUSR1 starts V8's sampling heap profiler, counting objects already
// collected too (so it measures allocation, not what survives); SIGUSR2
// stops it and writes the profile to <tmpdir>/voidkey-alloc-<pid>.json.
'use strict';
const inspector = require('node:inspector');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const session = new inspector.Session();
session.connect();
session.post('HeapProfiler.enable');
let sampling = false;

process.on('SIGUSR1', () => {
  const options = {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  };
  session.post('HeapProfiler.startSampling', options, () => {
    sampling = true;
  });
});

process.on('SIGUSR2', () => {
  if (!sampling) return;
  sampling = false;
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) return;
    const file = path.join(os.tmpdir(), `voidkey-alloc-${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify(result.profile));
  });
});
