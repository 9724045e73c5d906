/**
 * Account settings (`data-testid="account-settings"`): the caller's avatar (an image cropped to a
 * square and scaled in the browser, then uploaded; or removed, back to initials), display name,
 * "away", password change, and "sign out everywhere" (every session and connection of the account
 * ends, on every device).
 * @module
 */
import { AVATAR_SIZE, AVATAR_TYPES, MAX_AVATAR_BYTES } from '@switchboard/chat-contract';
import { type Chat, errorText } from '../chat.ts';
import { h } from '../dom.ts';
import { peopleOf } from '../people.ts';
import { avatar } from './avatar.ts';
import { confirmDialog } from './confirm.ts';
import { openDialog } from './dialog.ts';

/**
 * Crops an image file to its centred square and scales it to {@link AVATAR_SIZE} pixels, as PNG
 * (WebP when the PNG would be past the limit). Refuses what is not a PNG, JPEG, GIF or WebP.
 */
export async function squareAvatar(file: Blob): Promise<Blob> {
  if (!AVATAR_TYPES.includes(file.type)) throw new Error('Choose a PNG, JPEG, GIF or WebP image.');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error('This image could not be read.');
  }
  const side = Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement('canvas');
  canvas.width = AVATAR_SIZE;
  canvas.height = AVATAR_SIZE;
  const context = canvas.getContext('2d');
  if (!context) throw new Error('This browser cannot draw the image.');
  context.imageSmoothingQuality = 'high';
  context.drawImage(
    bitmap,
    (bitmap.width - side) / 2,
    (bitmap.height - side) / 2,
    side,
    side,
    0,
    0,
    AVATAR_SIZE,
    AVATAR_SIZE,
  );
  bitmap.close();
  const encode = (type: string, quality?: number) =>
    new Promise<Blob>((resolve, reject) =>
      canvas.toBlob(
        (blob) => (blob ? resolve(blob) : reject(new Error('The image could not be encoded.'))),
        type,
        quality,
      ),
    );
  const png = await encode('image/png');
  return png.size <= MAX_AVATAR_BYTES ? png : encode('image/webp', 0.9);
}

/** Opens the account settings; `signOut` ends the session on this browser afterwards. */
export function openAccountSettings(chat: Chat, signOut: () => void): void {
  const people = peopleOf(chat);
  const status = h('p', { class: 'account-status', role: 'status', 'data-testid': 'account-status' });
  const say = (text: string) => {
    status.textContent = text;
  };
  const fail = (e: unknown) => dialog.error(errorText(e));

  // Avatar.
  const preview = h('div', { class: 'account-avatar' }, avatar(chat, chat.me.id, 'l'));
  const fileInput = h('input', {
    type: 'file',
    accept: AVATAR_TYPES.join(','),
    'data-testid': 'avatar-input',
    class: 'visually-hidden-file',
  });
  const remove = h(
    'button',
    {
      type: 'button',
      'data-testid': 'avatar-remove',
      hidden: !chat.me.avatarUrl,
      onclick: () =>
        people.removeAvatar().then(() => {
          remove.hidden = true;
          redrawPreview();
          say('Your photo was removed.');
        }, fail),
    },
    'Remove photo',
  );
  const redrawPreview = () => preview.replaceChildren(avatar(chat, chat.me.id, 'l'));
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (!file) return;
    dialog.error('');
    say('Uploading your photo…');
    squareAvatar(file)
      .then((square) => people.setAvatar(square, 'avatar.png'))
      .then(
        () => {
          remove.hidden = false;
          redrawPreview();
          say('Your photo was changed.');
        },
        (e) => {
          say('');
          fail(e);
        },
      )
      .finally(() => {
        fileInput.value = '';
      });
  });

  // Display name.
  const nameInput = h('input', {
    id: 'account-display-name',
    name: 'displayName',
    value: chat.me.displayName,
    maxlength: 64,
    required: true,
    autocomplete: 'nickname',
    'data-testid': 'profile-display-name',
  });
  const nameForm = h(
    'form',
    { class: 'account-form', 'aria-label': 'Display name' },
    h('label', { for: 'account-display-name' }, 'Display name'),
    h(
      'div',
      { class: 'row' },
      nameInput,
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'profile-save' }, 'Save name'),
    ),
  );
  nameForm.addEventListener('submit', (event) => {
    event.preventDefault();
    dialog.error('');
    people.setDisplayName(nameInput.value.trim()).then((user) => {
      nameInput.value = user.displayName;
      say('Your display name was changed.');
    }, fail);
  });

  // Away.
  const away = h('input', {
    type: 'checkbox',
    id: 'account-away',
    'data-testid': 'away-toggle',
    checked: people.statusOf(chat.me.id).status === 'away',
  });
  away.addEventListener('change', () => {
    people
      .setAway(away.checked)
      .then(() => say(away.checked ? 'You show as away.' : 'You show as online.'), fail);
  });

  // Password.
  const current = h('input', {
    type: 'password',
    id: 'account-current-password',
    autocomplete: 'current-password',
    required: true,
    'data-testid': 'password-current',
  });
  const next = h('input', {
    type: 'password',
    id: 'account-new-password',
    autocomplete: 'new-password',
    minlength: 8,
    required: true,
    'data-testid': 'password-new',
  });
  const passwordForm = h(
    'form',
    { class: 'account-form', 'aria-label': 'Change password' },
    h('label', { for: 'account-current-password' }, 'Current password'),
    current,
    h('label', { for: 'account-new-password' }, 'New password (8 characters or more)'),
    next,
    h('button', { type: 'submit', 'data-testid': 'password-save' }, 'Change password'),
  );
  passwordForm.addEventListener('submit', (event) => {
    event.preventDefault();
    dialog.error('');
    people.changePassword(current.value, next.value).then(() => {
      current.value = '';
      next.value = '';
      say('Your password was changed. Your other sessions were signed out.');
    }, fail);
  });

  const everywhere = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      'data-testid': 'sign-out-everywhere',
      onclick: async () => {
        const yes = await confirmDialog({
          title: 'Sign out everywhere?',
          text: 'Every device and browser signed in to your account is signed out, this one too.',
          ok: 'Sign out everywhere',
          cancel: 'Cancel',
        });
        if (!yes) return;
        people.signOutEverywhere().then(() => {
          dialog.close();
          signOut();
        }, fail);
      },
    },
    'Sign out everywhere',
  );

  const dialog = openDialog(
    'Account settings',
    'account-settings',
    h(
      'section',
      { class: 'account-section', 'aria-labelledby': 'account-profile-title' },
      h('h3', { id: 'account-profile-title' }, 'Profile'),
      h(
        'div',
        { class: 'account-photo' },
        preview,
        h(
          'div',
          {},
          h('label', { class: 'button-like' }, 'Choose a photo', fileInput),
          remove,
          h('p', { class: 'muted' }, 'PNG, JPEG, GIF or WebP; cropped to a square.'),
        ),
      ),
      nameForm,
      h('label', { class: 'check', for: 'account-away' }, away, ' Show me as away'),
    ),
    h(
      'section',
      { class: 'account-section', 'aria-labelledby': 'account-security-title' },
      h('h3', { id: 'account-security-title' }, 'Sign-in'),
      passwordForm,
      h('p', {}, everywhere),
    ),
    status,
  );
  dialog.element.classList.add('account-dialog');
}
