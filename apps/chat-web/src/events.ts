/**
 * The hub's events applied to the page's state: new, edited and deleted messages, reactions,
 * typing, read state, presence, room membership and the support desk.
 * @module
 */
import type { Chat } from './chat.ts';
import type { Message, Presence, Reaction, ReadState, RoomUpdate, SupportRequest } from './types.ts';

/** How long "is typing" shows after a notice. */
export const TYPING_SHOWN_MS = 4_000;

/** Registers the chat's event handlers on its hub connection. */
export function wireChatEvents(chat: Chat): void {
  const hub = chat.link.hub;
  hub.on('messageReceived', (message: Message) => {
    const timeline = chat.timeline(message.roomId);
    if (timeline.loaded || message.roomId === chat.current) timeline.merge([message]);
    chat.rememberSenders([message]);
    chat.noteMessage(message, false);
    chat.noteTyping(message.roomId, message.senderId, 0);
    chat.changed('timeline');
    chat.changed('typing');
    if (message.roomId === chat.current) void chat.markRead(message.roomId).catch(() => undefined);
  });
  hub.on('messageEdited', (message: Message) => {
    if (chat.timeline(message.roomId).update(message.id, () => message)) chat.changed('timeline');
  });
  hub.on('messageDeleted', (e: { roomId: string; messageId: string }) => {
    const changed = chat.timeline(e.roomId).update(e.messageId, (m) => ({
      ...m,
      text: '',
      deleted: true,
      reactions: [],
    }));
    if (changed) chat.changed('timeline');
  });
  hub.on('reactionsChanged', (e: { roomId: string; messageId: string; reactions: Reaction[] }) => {
    if (chat.timeline(e.roomId).update(e.messageId, (m) => ({ ...m, reactions: e.reactions })))
      chat.changed('timeline');
  });
  hub.on('typing', (e: { roomId: string; userId: string }) => {
    chat.noteTyping(e.roomId, e.userId, TYPING_SHOWN_MS);
    chat.changed('typing');
    setTimeout(() => chat.changed('typing'), TYPING_SHOWN_MS + 50);
  });
  hub.on('readUpdated', (state: ReadState) => chat.applyRead(state));
  hub.on('presenceChanged', (p: Presence) => {
    chat.presence.set(p.userId, p.online);
    chat.changed('presence');
    chat.changed('rooms');
  });
  hub.on('roomUpdated', (e: RoomUpdate) => roomUpdated(chat, e));
  hub.on('supportQueueUpdated', (e: { request: SupportRequest }) => {
    chat.noteQueueUpdate(e.request, chat.viewingQueue);
    if (chat.isAgent) void chat.loadAgents();
  });
  hub.on('supportRequestUpdated', (e: { request: SupportRequest }) => {
    if (e.request.customerId === chat.me.id) chat.setMyRequest(e.request);
    if (chat.members.has(e.request.roomId)) void chat.loadMembers(e.request.roomId).catch(() => undefined);
  });
}

/** A room's membership changed: the caller joined, left or was removed, or someone else did. */
function roomUpdated(chat: Chat, e: RoomUpdate): void {
  const mine = e.userId === chat.me.id;
  if (mine && (e.change === 'left' || e.change === 'removed')) {
    chat.rooms.delete(e.room.id);
    if (chat.current === e.room.id) void chat.open(undefined);
    chat.changed('rooms');
    return;
  }
  if (mine && e.change === 'joined' && !chat.rooms.has(e.room.id)) {
    chat.rooms.set(e.room.id, {
      ...e.room,
      unreadCount: 0,
      mentionCount: 0,
      lastReadSeq: 0,
      lastMessage: null,
    });
    void chat.loadRooms().catch(() => undefined);
  }
  if (chat.members.has(e.room.id)) void chat.loadMembers(e.room.id).catch(() => undefined);
  chat.changed('rooms');
}
