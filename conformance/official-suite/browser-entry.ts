// The suite's test files, as its own ts/index.ts lists them (that file also loads a Promise
// polyfill that browsers of today do not need). Microsoft's files go in ./ts: see README.md.
import './ts/LogBannerReporter';
import './ts/ConnectionTests';
import './ts/HubConnectionTests';
import './ts/WebSocketTests';
import './ts/WebWorkerTests';
