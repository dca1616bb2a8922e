#!/usr/bin/env node
'use strict';
// `berth daemon ...` runs the daemon; every other command is a client of its API.
// Only the half that is needed is loaded, so client commands start fast.
const path = require('path');
const dist = path.join(__dirname, '..', 'dist', 'src');
const argv = process.argv.slice(2);
const fail = (err) => {
  process.stderr.write(`Error: ${err && err.message ? err.message : String(err)}\n`);
  process.exitCode = 1;
};
if (argv[0] === 'daemon') {
  require(path.join(dist, 'daemon', 'main.js')).runDaemon(argv.slice(1)).catch(fail);
} else if (argv[0] === 'lab') {
  require(path.join(dist, 'lab', 'main.js')).runLab(argv.slice(1)).then((code) => {
    process.exitCode = code;
  }, fail);
} else if (argv[0] === 'registry') {
  require(path.join(dist, 'daemon', 'registry-main.js')).runRegistry(argv.slice(1)).catch(fail);
} else {
  require(path.join(dist, 'cli', 'commands.js')).runCli(argv).then((code) => {
    process.exitCode = code;
  }, fail);
}
