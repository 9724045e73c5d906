// Control peer: the least a SignalR server on `ws` with the JSON hub protocol must do, written
// straight over `ws` with no hub layer (signalr-control.mjs). Switchboard's figure over this one is
// what its hub layer (validation, dispatch, hub instances, the connection's bookkeeping) costs
// beyond the codec; this one's over raw `ws` is the codec. Echo and broadcast only (the 1k and 5k
// sessions).
import { negotiateServer, serve } from './common.mjs';
import { attachSignalrControl, signalrNegotiateBody } from './signalr-control.mjs';

const http = negotiateServer(signalrNegotiateBody);
attachSignalrControl(http);
serve(http, 'ws-signalr');
