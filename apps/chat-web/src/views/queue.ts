/**
 * The agents' view: the live support queue (claim, transfer, close, open the conversation) and
 * every agent's load against their capacity.
 * @module
 */

import type { SupportRequest } from '@switchboard/chat-contract';
import { type Chat, errorText } from '../chat.ts';
import { formatTime, h, replaceChildren } from '../dom.ts';

/** The customer's display name, as the request carries it. */
export function customerName(chat: Chat, request: SupportRequest): string {
  return request.customerName || chat.nameOf(request.customerId, 'A customer');
}

/** Renders the support queue; returns its element and a function that detaches its listeners. */
export function createQueueView(chat: Chat): { element: HTMLElement; dispose(): void } {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const capacity = h('p', { class: 'capacity', 'data-testid': 'agent-capacity' });
  const list = h('ul', { class: 'queue', 'data-testid': 'support-queue', 'aria-label': 'Support requests' });
  const agentsList = h('ul', { class: 'pick-list', 'data-testid': 'agents-list', 'aria-label': 'Agents' });
  const act = (action: 'claim' | 'close' | 'transfer', request: SupportRequest, agentId?: string) =>
    chat.support(action, request.id, agentId).then(
      () => error.replaceChildren(),
      (e) => error.replaceChildren(errorText(e)),
    );
  const item = (request: SupportRequest) => {
    const mine = request.agentId === chat.me.id;
    const others = chat.agents.filter((a) => a.id !== chat.me.id);
    const select = h(
      'select',
      { 'aria-label': 'Transfer to agent', 'data-testid': 'transfer-agent' },
      ...others.map((a) => h('option', { value: a.id }, `${a.displayName}${a.online ? '' : ' (offline)'}`)),
    );
    const status =
      request.status === 'open'
        ? 'Waiting for an agent'
        : `With ${request.agentId === chat.me.id ? 'you' : chat.nameOf(request.agentId ?? '')}`;
    return h(
      'li',
      { class: `queue-item ${request.status}`, 'data-testid': 'queue-item', 'data-request-id': request.id },
      h('p', { class: 'subject' }, request.subject),
      h(
        'p',
        { class: 'muted' },
        h(
          'span',
          { class: 'customer', 'data-testid': 'queue-customer', dir: 'auto' },
          customerName(chat, request),
        ),
        ` · ${status} · since ${formatTime(request.createdAt)}`,
      ),
      h(
        'div',
        { class: 'room-actions' },
        request.status === 'open'
          ? h(
              'button',
              {
                type: 'button',
                class: 'primary',
                'data-testid': 'queue-claim',
                'data-key': `claim-${request.id}`,
                onclick: () => act('claim', request),
              },
              'Claim',
            )
          : null,
        mine
          ? h(
              'button',
              { type: 'button', 'data-testid': 'queue-open', onclick: () => void chat.open(request.roomId) },
              'Open',
            )
          : null,
        mine && others.length > 0
          ? h(
              'span',
              { class: 'transfer' },
              select,
              h(
                'button',
                {
                  type: 'button',
                  'data-testid': 'queue-transfer',
                  onclick: () => act('transfer', request, select.value),
                },
                'Transfer',
              ),
            )
          : null,
        mine || request.status === 'open'
          ? h(
              'button',
              {
                type: 'button',
                'data-testid': 'queue-close',
                'data-key': `close-${request.id}`,
                onclick: () => act('close', request),
              },
              'Close',
            )
          : null,
      ),
    );
  };
  const render = () => {
    const requests = [...chat.queue.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    replaceChildren(
      list,
      requests.length === 0 ? [h('li', { class: 'empty' }, 'The queue is empty.')] : requests.map(item),
    );
    const me = chat.agents.find((a) => a.id === chat.me.id);
    capacity.textContent = me ? `You handle ${me.assigned} of ${me.capacity} requests.` : '';
    replaceChildren(
      agentsList,
      chat.agents.map((a) =>
        h(
          'li',
          {},
          h('span', {}, `${a.displayName}${a.online ? ' · online' : ' · offline'}`),
          h('span', { class: 'muted' }, `${a.assigned}/${a.capacity}`),
        ),
      ),
    );
  };
  const off = chat.on('support', render);
  render();
  void chat.loadQueue().catch((e) => error.replaceChildren(errorText(e)));
  const element = h(
    'section',
    { class: 'queue-view', 'aria-labelledby': 'queue-title' },
    h('h2', { id: 'queue-title' }, 'Support queue'),
    capacity,
    error,
    list,
    h('h3', {}, 'Agents'),
    agentsList,
  );
  return { element, dispose: off };
}
