/**
 * The notification settings of a conversation (`notification-settings`): all messages, mentions
 * only, or muted; a sound; and the browser's permission for desktop notifications, asked only
 * when the button is clicked.
 * @module
 */
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';
import { NOTIFY_LEVELS, notifierOf } from '../notifications.ts';
import { openDialog } from './dialog.ts';

/** The room header's button that opens the settings. */
export function notificationButton(chat: Chat, roomId: string): HTMLElement {
  return h(
    'button',
    {
      type: 'button',
      'data-testid': 'notification-settings-open',
      onclick: () => notificationDialog(chat, roomId),
    },
    'Notifications',
  );
}

/** Opens the settings of one conversation. */
export function notificationDialog(chat: Chat, roomId: string): void {
  const notifier = notifierOf(chat);
  const room = chat.rooms.get(roomId);
  if (!room) return;
  const current = notifier.levelOf(room);
  const choices = h(
    'fieldset',
    { class: 'notify-levels' },
    h('legend', {}, 'Notify me about'),
    ...NOTIFY_LEVELS.map(({ level, label }) =>
      h(
        'label',
        { class: 'check' },
        h('input', {
          type: 'radio',
          name: 'notify-level',
          value: level,
          checked: level === current,
          'data-testid': `notify-${level}`,
          onchange: () => notifier.setLevel(roomId, level),
        }),
        ` ${label}`,
      ),
    ),
  );
  const sound = h('input', {
    type: 'checkbox',
    checked: notifier.sound,
    'data-testid': 'notify-sound',
    onchange: () => {
      notifier.sound = sound.checked;
    },
  });
  const permission = h('div', { class: 'notify-permission' });
  const renderPermission = () => {
    const state = notifier.permission;
    permission.replaceChildren(
      state === 'default'
        ? h(
            'button',
            {
              type: 'button',
              class: 'primary',
              'data-testid': 'notify-allow',
              onclick: () => void notifier.askPermission().then(renderPermission),
            },
            'Allow desktop notifications',
          )
        : h(
            'p',
            { class: 'hint', 'data-testid': 'notify-permission' },
            state === 'granted'
              ? 'Desktop notifications are on while this page is in the background.'
              : state === 'denied'
                ? 'This browser blocks notifications from this site; change it in the site settings.'
                : 'This browser cannot show desktop notifications.',
          ),
    );
  };
  renderPermission();
  openDialog(
    `Notifications: ${chat.titleOf(room)}`,
    'notification-settings',
    choices,
    h('label', { class: 'check' }, sound, ' Play a sound'),
    permission,
  );
}
