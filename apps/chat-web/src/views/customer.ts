/**
 * The customer's view: one conversation with the support team. Before the first message it asks
 * what the matter is; afterwards it shows the conversation and whether it waits for an agent.
 * @module
 */
import { type Chat, errorText } from '../chat.ts';
import { h } from '../dom.ts';
import { createRoomView } from './room.ts';

/** Renders the customer's support conversation into `container`. */
export function renderCustomer(chat: Chat, container: HTMLElement): () => void {
  let dispose = () => {};
  const status = h('p', { class: 'support-status', 'data-testid': 'support-status', role: 'status' });
  const renderStatus = () => {
    const request = chat.myRequest;
    const room = [...chat.rooms.values()].find((r) => r.kind === 'support');
    const agents = (room ? (chat.members.get(room.id) ?? []) : []).filter((id) => id !== chat.me.id);
    if (request?.status === 'closed') {
      status.textContent = 'This conversation was closed. Write again to reopen it.';
      status.dataset.state = 'closed';
    } else if (request?.status === 'assigned' || agents.length > 0) {
      const agentId = request?.agentId ?? agents[0];
      status.textContent = `${agentId ? chat.nameOf(agentId) : 'An agent'} from the support team is with you.`;
      status.dataset.state = 'assigned';
    } else {
      status.textContent = 'Waiting for an agent… We will answer here as soon as one is free.';
      status.dataset.state = 'waiting';
    }
  };
  const render = () => {
    dispose();
    const room = [...chat.rooms.values()].find((r) => r.kind === 'support');
    if (room) {
      void chat.open(room.id).catch(() => undefined);
      const view = createRoomView(
        chat,
        room.id,
        { members: () => {}, invite: () => {}, back: () => {} },
        {
          header: false,
          status,
        },
      );
      const offs = [
        chat.on('support', renderStatus),
        chat.on('members', renderStatus),
        chat.on('rooms', renderStatus),
      ];
      renderStatus();
      container.replaceChildren(h('h1', { class: 'support-title' }, 'Support'), view.element);
      dispose = () => {
        view.dispose();
        for (const off of offs) off();
      };
      return;
    }
    const subject = h('input', {
      name: 'subject',
      required: true,
      maxlength: 200,
      'data-testid': 'support-subject',
    });
    const text = h('textarea', { name: 'text', required: true, rows: 4, 'data-testid': 'support-text' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const form = h(
      'form',
      { class: 'card' },
      h('h1', {}, 'How can we help?'),
      h('label', { class: 'field' }, h('span', {}, 'Subject'), subject),
      h('label', { class: 'field' }, h('span', {}, 'Your message'), text),
      error,
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'support-submit' }, 'Send to support'),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!subject.value.trim() || !text.value.trim()) {
        error.textContent = 'Please fill in the subject and your message.';
        return;
      }
      chat.openSupport(subject.value.trim(), text.value.trim()).then(render, (e) => {
        error.textContent = errorText(e);
      });
    });
    container.replaceChildren(form);
    subject.focus();
  };
  render();
  // The rooms arrive after connecting: a returning customer's conversation replaces the form.
  const offRooms = chat.on('rooms', () => {
    const hasRoom = [...chat.rooms.values()].some((r) => r.kind === 'support');
    if (hasRoom && !container.querySelector('[data-testid="message-list"]')) render();
  });
  return () => {
    offRooms();
    dispose();
  };
}
