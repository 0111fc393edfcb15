#pragma once

// One accepted TCP connection of the fake upstream: reads requests in order (keep-alive and
// pipelining), consumes their bodies as a stream and plays each request's Script. Owned by
// Server; single-threaded; dies through Server::release() when closed.

#include <cstdint>
#include <optional>
#include <string>

#include "libevent_handles.h"
#include "request_parser.h"
#include "script.h"

namespace fake_upstream {

class Server;

class Connection {
 public:
  Connection(Server& server, event_base* base, evutil_socket_t fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // A /__stats long-poll waiting on this connection may now be answerable.
  void onStatsChanged();

  // libevent callbacks
  void onReadable();
  void onWriteDrained();
  void onEvent(short what);
  void onTimer();

 private:
  enum class State {
    ReadHead,    // waiting for (the rest of) a request head; idle keep-alive included
    ReadBody,    // streaming the request body in
    Responding,  // playing the script (delays, head, body, hang, stall, stats wait)
    Echoing,     // after 101 on /ws: every byte goes back
    Closing,     // flushing the output, then FIN or RST
    Lingering,   // FIN sent; discarding input until the peer closes
    Dead,
  };
  enum class TimerKind {
    None,
    KeepAlive,
    IdleClose,
    DelayHeaders,
    DelayBody,
    ChunkDelay,
    StatsWait,
    Linger
  };
  enum class CloseKind { Fin, Reset, Abort };
  enum class ChunkState { Size, Data, DataEnd, Trailers };

  void processInput();
  void onHead(RequestHead head);
  // Consumes what the input holds of the body. Returns true once the body is complete.
  bool consumeBody();
  void hashAndDrain(uint64_t n);
  void onRequestComplete();

  void beginResponse();
  void beginStats();
  bool statsConditionHolds() const;
  void respondStats();
  void sendHead();
  void startBody();
  void pumpBody();
  void bodyDone();
  void finishResponse();

  void reject(int status, const std::string& why);
  void closeAfterDrain(CloseKind kind);
  void onDrainedForClose();
  void destroy();
  void armTimer(TimerKind kind, uint64_t ms);
  void cancelTimer();
  void echoInput();
  std::string echoText() const;
  evutil_socket_t fd() const;

  Server& server_;
  BufferEventPtr bev_;
  EventPtr timer_;
  TimerKind timer_kind_ = TimerKind::None;
  State state_ = State::ReadHead;
  bool control_ = false;
  bool in_process_ = false;
  bool peer_eof_ = false;
  uint64_t requests_on_connection_ = 0;

  // Current request.
  RequestHead request_;
  Script script_;
  uint64_t body_remaining_ = 0;
  ChunkState chunk_state_ = ChunkState::Size;
  uint64_t body_bytes_ = 0;
  Fnv1a body_hash_;
  HeaderList request_trailers_;

  // Current response.
  bool waiting_stats_ = false;
  bool silent_ = false;  // hang or stall: nothing more will be written
  bool close_after_ = false;
  bool fin_after_ = false;  // close without having announced it
  bool body_allowed_ = true;
  bool out_chunked_ = false;
  bool use_text_ = true;
  bool pumping_ = false;
  std::string text_body_;
  uint64_t body_total_ = 0;
  uint64_t body_limit_ = 0;
  uint64_t body_sent_ = 0;
  CloseKind close_kind_ = CloseKind::Fin;
  // Set by close_on_next_request / reset_on_next_request: how to end the connection when the
  // next request head arrives (instead of answering it).
  std::optional<CloseKind> close_on_next_request_;
  bool echo_paused_ = false;
};

}  // namespace fake_upstream
