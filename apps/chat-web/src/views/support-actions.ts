/**
 * An agent's controls inside a support conversation: transfer it to another agent or close it,
 * without going back to the queue. Shown while the request is assigned to the agent.
 * @module
 */
import { type Chat, errorText } from '../chat.ts';
import { h, replaceChildren } from '../dom.ts';

/** The transfer and close controls of the support room `roomId`, kept current with the queue. */
export function supportActions(chat: Chat, roomId: string): { element: HTMLElement; dispose(): void } {
  const element = h('div', { class: 'room-actions support-actions', 'data-testid': 'conversation-support' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const act = (action: 'close' | 'transfer', requestId: string, agentId?: string) =>
    chat.support(action, requestId, agentId).then(
      () => error.replaceChildren(),
      (e) => error.replaceChildren(errorText(e)),
    );
  const render = () => {
    const request = chat.requestOfRoom(roomId);
    const mine = request?.status === 'assigned' && request.agentId === chat.me.id;
    if (!request || !mine) {
      element.replaceChildren(error);
      return;
    }
    const chosen = element.querySelector('select')?.value;
    const others = chat.agents.filter((a) => a.id !== chat.me.id);
    const select = h(
      'select',
      { 'aria-label': 'Transfer to agent', 'data-testid': 'conversation-transfer-agent' },
      ...others.map((a) => h('option', { value: a.id }, `${a.displayName}${a.online ? '' : ' (offline)'}`)),
    );
    if (chosen && others.some((a) => a.id === chosen)) select.value = chosen;
    replaceChildren(element, [
      others.length > 0
        ? h(
            'span',
            { class: 'transfer' },
            select,
            h(
              'button',
              {
                type: 'button',
                'data-testid': 'conversation-transfer',
                onclick: () => act('transfer', request.id, select.value),
              },
              'Transfer',
            ),
          )
        : null,
      h(
        'button',
        { type: 'button', 'data-testid': 'conversation-close', onclick: () => act('close', request.id) },
        'Close request',
      ),
      error,
    ]);
  };
  const off = chat.on('support', render);
  render();
  return { element, dispose: off };
}
