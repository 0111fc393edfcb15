#pragma once

// TLS for net::Connection, on OpenSSL 3 (Debian's libssl): the contexts (one for the serving
// certificate, one per [[upstream]] that originates TLS) and TlsSession, one connection's TLS
// state, which Connection drives as its transport (after Envoy's TransportSocket and HAProxy's
// ssl_sock xprt): Connection asks it to shake hands, read, write and shut down, and otherwise
// moves bytes exactly as for a plain socket.
//
// The SSL object sits directly on the socket (SSL_set_fd) rather than on memory BIOs: the
// records go from the kernel into OpenSSL's read-ahead buffer and out of it decrypted into the
// connection's pooled block, with no copy through a memory BIO on either side; the same syscalls
// as plain (read-ahead takes what the kernel has in one recv); and kernel TLS stays possible
// (it needs the socket BIO). Edge-triggered readiness carries over: OpenSSL's WANT_READ /
// WANT_WRITE mean the socket said EAGAIN, so a new edge follows.
//
// Contexts are immutable once built and shared between workers (an SSL_CTX may be used by
// several threads at once); a TlsSession belongs to one connection on one loop thread.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "triaged/config/config.h"
#include "triaged/core/c_handle.h"
#include "triaged/core/result.h"
#include "triaged/diagnose/classifier.h"

namespace triaged::net {

using SslCtxPtr = std::unique_ptr<SSL_CTX, FreeWith<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, FreeWith<SSL, SSL_free>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, FreeWith<SSL_SESSION, SSL_SESSION_free>>;
using X509Ptr = std::unique_ptr<X509, FreeWith<X509, X509_free>>;

// One certificate's facts for evidence and the expiry metric.
struct CertificateInfo {
  diagnose::CertificateFacts facts;
  int64_t not_after_unix = 0;  // seconds since the epoch
};
CertificateInfo describeCertificate(X509* cert);

// The file a TLS setting names, for messages that say which key is wrong.
enum class TlsFile : uint8_t { Cert, Key, Ca, ClientCert, ClientKey };

struct TlsLoadError {
  TlsFile file = TlsFile::Cert;
  std::string reason;  // "cannot read /etc/x.pem: No such file or directory", ...
};

// The serving certificate (chain) and its key: TLS 1.2 and 1.3, ALPN http/1.1, Mozilla's
// "intermediate" cipher policy for TLS 1.2 (ECDHE with AES-GCM or ChaCha20-Poly1305; TLS 1.3's
// own suites), no renegotiation, no compression, stateless session tickets for resumption.
class TlsServerContext {
 public:
  // `error` says which file is wrong and why when the result is null.
  static std::shared_ptr<const TlsServerContext> load(const std::string& cert_file,
                                                      const std::string& key_file,
                                                      TlsLoadError& error);
  SSL_CTX* get() const { return ctx_.get(); }
  // The leaf certificate (the first of the chain file).
  const CertificateInfo& certificate() const { return leaf_; }
  X509* leaf() const { return leaf_x509_.get(); }

 private:
  SslCtxPtr ctx_;
  X509Ptr leaf_x509_;
  CertificateInfo leaf_;
};

// What an [[upstream]] with tls = true connects with.
struct TlsClientSettings {
  bool verify = true;
  std::string ca_file;  // "" = the system's CAs
  std::string client_cert_file;
  std::string client_key_file;
};

// The settings of an [[upstream]] with tls = true.
TlsClientSettings tlsClientSettings(const config::UpstreamConfig& upstream);

class TlsClientContext {
 public:
  static std::shared_ptr<const TlsClientContext> load(const TlsClientSettings& settings,
                                                      TlsLoadError& error);
  SSL_CTX* get() const { return ctx_.get(); }
  bool verify() const { return settings_.verify; }
  bool hasClientCertificate() const { return !settings_.client_cert_file.empty(); }
  // "the system's CAs" or the bundle's path, for evidence.
  std::string trustSource() const;

 private:
  SslCtxPtr ctx_;
  TlsClientSettings settings_;
};

// The session to resume on the next connection to one endpoint (TLS 1.2 session ids, TLS 1.3
// tickets). Owned by the endpoint, loop thread only; a connection stores into it through
// OpenSSL's new-session callback, so it must outlive the connections that point at it.
struct TlsSessionSlot {
  SslSessionPtr session;
};

using diagnose::TlsClientFailure;

// One connection's TLS state. Loop thread only; owned by its Connection.
class TlsSession {
 public:
  // An accepted connection on the TLS listener.
  TlsSession(const TlsServerContext& context, int fd);
  // A connection to an upstream. `server_name`: sent as SNI (unless an IP address) and verified
  // (as a host name or an IP address). `slot`: resumes its session and stores the next one.
  TlsSession(const TlsClientContext& context, int fd, const std::string& server_name,
             TlsSessionSlot* slot);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class Status : uint8_t { Ok, WantRead, WantWrite, Eof, Failed };

  // One step of the handshake: Ok once established.
  Status handshake();
  bool established() const { return established_; }
  // Reads up to `len` plaintext bytes: Ok with `n` > 0, or WantRead (the socket is drained),
  // Eof (close_notify or the peer's FIN), Failed (`err` set when the socket failed).
  Status read(char* buffer, size_t len, size_t& n, int& err);
  // Writes up to `len` bytes: Ok with `n` (maybe fewer, whole records), WantWrite, Failed.
  Status write(const char* data, size_t len, size_t& n, int& err);
  // Plaintext OpenSSL holds already: read it without waiting for the socket.
  bool hasPending() const;
  // The last read from the socket came back shorter than asked: the socket was empty then, so
  // with edge-triggered polling the next bytes bring a new event. With no hasPending(), reading
  // on would only meet EAGAIN (one read() per request saved).
  bool socketDrained() const { return socket_drained_; }
  // Sends close_notify, best effort (never waits).
  void shutdown();
  bool failed() const { return failed_; }

  // --- after a failed handshake ---
  // Upstream side: what exactly went wrong.
  diagnose::TlsFailure failure() const;
  // Listener side: the bounded reason, and the detail for the log line.
  TlsClientFailure clientFailure() const;
  const std::string& errorText() const { return error_text_; }
  const std::string& serverNameRequested() const { return sni_; }
  // Listener side: the client asked (SNI) for a name the certificate does not carry.
  bool serverNameUnknown() const { return !sni_matches_; }

  // --- after the handshake ---
  bool resumed() const;
  std::string_view version() const;
  // The upstream's certificate (null when none or not verified).
  X509* peerCertificate() const;
  // After a failed verification: the certificate it failed on.
  X509* failedCertificate() const { return verify_cert_.get(); }

  // OpenSSL callbacks (static, in the .cc) reach the session through this.
  static TlsSession* from(SSL* ssl);
  void noteVerifyFailure(int error, X509* cert);
  void noteServerName(const char* name);
  TlsSessionSlot* slot() const { return slot_; }

 private:
  Status fail(int ret, int& err);
  void recordError(int ssl_error, int err);
  // The socket BIO's callback: notes whether each read emptied the socket (socketDrained) and,
  // on the upstream side until the handshake is done, records the first bytes OpenSSL reads from
  // the peer (and an EOF before any), whatever call reads them.
  void watchSocketReads();
  static long onSocketRead(BIO* bio, int oper, const char* argp, size_t len,  // NOLINT
                           int argi, long argl, int ret, size_t* processed);  // NOLINT

  SslPtr ssl_;
  bool server_;
  bool established_ = false;
  bool failed_ = false;
  bool client_cert_configured_ = false;
  bool verify_ = false;
  std::string server_name_;  // upstream side: what was verified
  std::string trust_;        // upstream side: where the trusted CAs came from
  TlsSessionSlot* slot_ = nullptr;
  // What the failure was, captured at once: OpenSSL's error queue is per thread and the next
  // connection's call clears it.
  unsigned long error_code_ = 0;  // NOLINT(google-runtime-int): OpenSSL's type
  int ssl_error_ = 0;
  int sys_errno_ = 0;
  std::string error_text_;
  int verify_error_ = 0;                // X509_V_OK, or the first verification error
  X509Ptr verify_cert_;                 // the certificate it was about
  std::string first_bytes_;             // upstream side: the first bytes the peer sent, as read
  bool eof_before_bytes_ = false;       // ... or its FIN came before any byte
  bool recording_first_bytes_ = false;  // upstream side, until the handshake is done
  bool socket_drained_ = false;         // the last socket read came back short
  std::string sni_;                     // listener side: the name the client asked for
  bool sni_matches_ = true;             // ... and whether the certificate carries it
  const TlsServerContext* server_context_ = nullptr;
};

}  // namespace triaged::net
