// The `switchboard` command on the TypeScript sources, for tests that spawn the service.
import { main } from '../src/cli.ts';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
