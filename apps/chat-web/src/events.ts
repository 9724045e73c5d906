/**
 * The hub's events applied to the page's state: new, edited and deleted messages, reactions,
 * typing, read state, presence, room membership and the support desk.
 * @module
 */

import type {
  Message,
  Presence,
  Reaction,
  ReadState,
  RoomUpdate,
  SupportRequest,
  ThreadReadUpdate,
} from '@switchboard/chat-contract';
import type { Chat } from './chat.ts';
import { wireRoomExtras } from './room-extras.ts';

/** How long "is typing" shows after a notice. */
export const TYPING_SHOWN_MS = 4_000;

/** Registers the chat's event handlers on its hub connection. */
export function wireChatEvents(chat: Chat): void {
  const hub = chat.link.hub;
  hub.on('messageReceived', (message: Message) => {
    chat.store.receive(message);
    chat.rememberSenders([message]);
    chat.noteMessage(message, false);
    chat.noteTyping(message.roomId, message.senderId, 0);
    chat.changed('timeline');
    chat.changed('typing');
  });
  hub.on('messageEdited', (message: Message) => {
    chat.store.change({
      roomId: message.roomId,
      messageId: message.id,
      changeSeq: message.changeSeq ?? 0,
      apply: () => message,
    });
  });
  hub.on('messageDeleted', (e: { roomId: string; messageId: string; changeSeq?: number }) => {
    chat.store.change({
      roomId: e.roomId,
      messageId: e.messageId,
      changeSeq: e.changeSeq ?? 0,
      apply: (m) => ({ ...m, text: '', deleted: true, reactions: [] }),
    });
  });
  hub.on(
    'reactionsChanged',
    (e: { roomId: string; messageId: string; reactions: Reaction[]; changeSeq?: number }) => {
      chat.store.change({
        roomId: e.roomId,
        messageId: e.messageId,
        changeSeq: e.changeSeq ?? 0,
        apply: (m) => ({ ...m, reactions: e.reactions }),
      });
    },
  );
  hub.on(
    'threadUpdated',
    (e: {
      roomId: string;
      messageId: string;
      replyCount: number;
      lastReplySeq: number;
      changeSeq?: number;
    }) => {
      chat.store.change({
        roomId: e.roomId,
        messageId: e.messageId,
        changeSeq: e.changeSeq ?? 0,
        apply: (m) => ({ ...m, replyCount: e.replyCount, lastReplySeq: e.lastReplySeq }),
      });
      chat.changed('timeline');
    },
  );
  hub.on('threadReadUpdated', (e: ThreadReadUpdate) => chat.applyThreadRead(e));
  // Favourites and thread states (after the thread markers above).
  wireRoomExtras(chat);
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
    // Claimed (again) or handed to this agent: the conversation comes back, caught up.
    if (e.request.agentId === chat.me.id) void chat.store.resync(e.request.roomId).catch(() => undefined);
  });
  hub.on('supportRequestUpdated', (e: { request: SupportRequest }) => {
    if (e.request.customerId === chat.me.id) chat.setMyRequest(e.request);
    void chat.store.resync(e.request.roomId).catch(() => undefined);
    if (chat.members.has(e.request.roomId)) void chat.loadMembers(e.request.roomId).catch(() => undefined);
  });
}

/** A room's membership changed: the caller joined, left or was removed, or someone else did. */
function roomUpdated(chat: Chat, e: RoomUpdate): void {
  const mine = e.userId === chat.me.id;
  if (mine && (e.change === 'left' || e.change === 'removed')) {
    chat.rooms.delete(e.room.id);
    chat.store.forget(e.room.id);
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
  // Joined again (from another tab, an invite): a view kept from before catches up.
  if (mine && e.change === 'joined') void chat.store.resync(e.room.id).catch(() => undefined);
  if (chat.members.has(e.room.id)) void chat.loadMembers(e.room.id).catch(() => undefined);
  chat.changed('rooms');
}
