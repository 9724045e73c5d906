// Issue #15 on SQLite: the host app's tokens and the server API (suites in host-suite.ts and
// api-suite.ts).
import { serverApiSuite } from './api-suite.ts';
import { hostTokenSuite } from './host-suite.ts';

hostTokenSuite('sqlite', () => true);
serverApiSuite('sqlite', () => true);
