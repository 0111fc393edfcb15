#include "triaged/net/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <spdlog/fmt/fmt.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "triaged/core/text.h"

namespace triaged::net {
namespace {

using BioPtr = std::unique_ptr<BIO, FreeWith<BIO, BIO_free_all>>;

// How many of an upstream's first bytes a failed handshake keeps to show what it sent instead.
constexpr size_t kFirstBytesKept = 16;

// Mozilla's "intermediate" TLS 1.2 suites (forward secret, AEAD only); TLS 1.3 keeps OpenSSL's
// defaults (AES-GCM and ChaCha20-Poly1305), which are the same families.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// ALPN wire format (RFC 7301 3.1): a length byte, then the name.
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr int kAlertReasonOffset = 1000;  // OpenSSL's SSL_AD_REASON_OFFSET

int sessionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string lastErrorText() {
  const unsigned long code = ERR_peek_last_error();  // NOLINT(google-runtime-int)
  ERR_clear_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(code));
}

// 0, or the errno that keeps `path` from being read.
int unreadable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return EISDIR;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return errno != 0 ? errno : ENOENT;
  std::fclose(f);
  return 0;
}

std::string nameText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int)
  return len > 0 ? printable(std::string_view(data, static_cast<size_t>(len)), 256) : "";
}

std::string timeText(const ASN1_TIME* t, int64_t* unix_seconds) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  if (unix_seconds != nullptr) *unix_seconds = static_cast<int64_t>(timegm(&tm));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string alternativeNames(X509* cert) {
  std::string out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && out.size() < 512; ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      std::string item;
      if (name->type == GEN_DNS) {
        const ASN1_STRING* s = name->d.dNSName;
        item = "DNS:" +
               printable(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                          static_cast<size_t>(ASN1_STRING_length(s))),
                         128);
      } else if (name->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* ip = name->d.iPAddress;
        const unsigned char* b = ASN1_STRING_get0_data(ip);
        if (ASN1_STRING_length(ip) == 4) {
          item = fmt::format("IP:{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
        } else {
          item = "IP:(IPv6)";
        }
      }
      if (item.empty()) continue;
      if (!out.empty()) out += ", ";
      out += item;
    }
    GENERAL_NAMES_free(names);
  }
  if (out.empty()) {
    // No subjectAltName: only the common name, which verification no longer accepts
    // (RFC 6125 6.4.4: a certificate with SANs is matched on them alone).
    out = "no subjectAltName (subject " + nameText(X509_get_subject_name(cert)) + ")";
  }
  return out;
}

// Makes a context's certificate and key from PEM files; `cert_role` and `key_role` say which
// setting to blame.
bool useCertificateAndKey(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                          TlsFile cert_role, TlsFile key_role, TlsLoadError& error) {
  if (const int err = unreadable(cert_file); err != 0) {
    error = {cert_role, "cannot read " + cert_file + ": " + std::strerror(err)};
    return false;
  }
  if (const int err = unreadable(key_file); err != 0) {
    error = {key_role, "cannot read " + key_file + ": " + std::strerror(err)};
    return false;
  }
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    error = {cert_role,
             cert_file + " holds no usable PEM certificate chain (" + lastErrorText() + ")"};
    return false;
  }
  // Read apart from installing it: SSL_CTX_use_PrivateKey refuses a key that does not match the
  // certificate, and that deserves its own message.
  EVP_PKEY* key = nullptr;
  if (FILE* f = std::fopen(key_file.c_str(), "rb")) {
    key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
  }
  if (key == nullptr) {
    error = {key_role, key_file + " holds no usable PEM private key (" + lastErrorText() + ")"};
    return false;
  }
  const int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    error = {key_role,
             "the key in " + key_file + " does not match the certificate in " + cert_file};
    return false;
  }
  return true;
}

SslCtxPtr newContext(const SSL_METHOD* method) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) abort();  // out of memory
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // No renegotiation (a CPU sink and an attack surface), no compression (CRIME); an EOF without
  // close_notify is the end of the stream: HTTP framing, not TLS, says whether a message is
  // complete, and many servers close without close_notify.
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers);
  // Partial writes: a record the kernel took is reported, as send() would; the buffer may move
  // between retries (our output blocks do not, but an overflow evbuffer's chain can); buffers go
  // back while a connection is idle, as nginx does (an idle keep-alive connection holds none).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  // One recv takes what the kernel has (several records), not a 5-byte header and then a body.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  return ctx;
}

int alpnSelect(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpnHttp11, sizeof kAlpnHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no ALPN then, as nginx: the client may still speak HTTP/1.1
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int serverNameCallback(SSL* ssl, int*, void*) {
  if (TlsSession* t = TlsSession::from(ssl)) {
    t->noteServerName(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
  }
  // One certificate: served whatever name was asked (as nginx's default server); a name it does
  // not carry is remembered, and named if the client then gives up.
  return SSL_TLSEXT_ERR_OK;
}

int verifyCallback(int ok, X509_STORE_CTX* store) {
  if (ok == 0) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (TlsSession* t = ssl != nullptr ? TlsSession::from(ssl) : nullptr) {
      t->noteVerifyFailure(X509_STORE_CTX_get_error(store), X509_STORE_CTX_get_current_cert(store));
    }
  }
  return ok;
}

int newSessionCallback(SSL* ssl, SSL_SESSION* session) {
  TlsSession* t = TlsSession::from(ssl);
  if (t == nullptr || t->slot() == nullptr) return 0;
  t->slot()->session.reset(session);  // ours now (return 1)
  return 1;
}

bool isIpAddress(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

// OpenSSL 3.0 names only the alerts of TLS 1.2 and before ("unknown" for the rest).
std::string alertName(int alert) {
  switch (alert) {
    case 86:
      return "inappropriate fallback";
    case 109:
      return "missing extension";
    case 112:
      return "unrecognized name";
    case 115:
      return "unknown PSK identity";
    case 116:
      return "certificate required";
    case 120:
      return "no application protocol";
    default:
      return SSL_alert_desc_string_long(alert);
  }
}

bool isCertificateAlert(int alert) {
  switch (alert) {
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
    case SSL_AD_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

}  // namespace

CertificateInfo describeCertificate(X509* cert) {
  CertificateInfo info;
  if (cert == nullptr) return info;
  info.facts.subject = nameText(X509_get_subject_name(cert));
  info.facts.issuer = nameText(X509_get_issuer_name(cert));
  info.facts.not_before = timeText(X509_get0_notBefore(cert), nullptr);
  info.facts.not_after = timeText(X509_get0_notAfter(cert), &info.not_after_unix);
  info.facts.names = alternativeNames(cert);
  return info;
}

// --- contexts -------------------------------------------------------------------------------

std::shared_ptr<const TlsServerContext> TlsServerContext::load(const std::string& cert_file,
                                                               const std::string& key_file,
                                                               TlsLoadError& error) {
  auto out = std::make_shared<TlsServerContext>();
  out->ctx_ = newContext(TLS_server_method());
  SSL_CTX* ctx = out->ctx_.get();
  if (!useCertificateAndKey(ctx, cert_file, key_file, TlsFile::Cert, TlsFile::Key, error)) {
    return nullptr;
  }
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  X509_up_ref(leaf);
  out->leaf_x509_.reset(leaf);
  out->leaf_ = describeCertificate(leaf);
  SSL_CTX_set_alpn_select_cb(ctx, &alpnSelect, nullptr);
  // SSL_CTX_set_tlsext_servername_callback, without the macro's C cast.
  SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                        reinterpret_cast<void (*)()>(&serverNameCallback));
  static constexpr unsigned char kSessionContext[] = "triaged";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  // One TLS 1.3 ticket per full handshake (OpenSSL sends two): a client resumes with one.
  SSL_CTX_set_num_tickets(ctx, 1);
  return out;
}

std::shared_ptr<const TlsClientContext> TlsClientContext::load(const TlsClientSettings& settings,
                                                               TlsLoadError& error) {
  auto out = std::make_shared<TlsClientContext>();
  out->settings_ = settings;
  out->ctx_ = newContext(TLS_client_method());
  SSL_CTX* ctx = out->ctx_.get();
  if (!settings.ca_file.empty()) {
    if (const int err = unreadable(settings.ca_file); err != 0) {
      error = {TlsFile::Ca, "cannot read " + settings.ca_file + ": " + std::strerror(err)};
      return nullptr;
    }
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx, settings.ca_file.c_str(), nullptr) != 1 ||
        sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx))) == 0) {
      error = {TlsFile::Ca,
               settings.ca_file + " holds no PEM CA certificate (" + lastErrorText() + ")"};
      return nullptr;
    }
  } else if (settings.verify) {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  SSL_CTX_set_verify(ctx, settings.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                     settings.verify ? &verifyCallback : nullptr);
  if (!settings.client_cert_file.empty() &&
      !useCertificateAndKey(ctx, settings.client_cert_file, settings.client_key_file,
                            TlsFile::ClientCert, TlsFile::ClientKey, error)) {
    return nullptr;
  }
  SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof kAlpnHttp11);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &newSessionCallback);
  return out;
}

TlsClientSettings tlsClientSettings(const config::UpstreamConfig& upstream) {
  TlsClientSettings s;
  s.verify = upstream.tls_verify;
  s.ca_file = upstream.tls_ca;
  s.client_cert_file = upstream.tls_client_cert;
  s.client_key_file = upstream.tls_client_key;
  return s;
}

std::string TlsClientContext::trustSource() const {
  return settings_.ca_file.empty() ? "the system's CAs" : "tls_ca " + settings_.ca_file;
}

// --- one connection ------------------------------------------------------------------------

TlsSession::TlsSession(const TlsServerContext& context, int fd)
    : ssl_(SSL_new(context.get())), server_(true), server_context_(&context) {
  if (!ssl_) abort();
  SSL_set_fd(ssl_.get(), fd);
  watchSocketReads();
  SSL_set_accept_state(ssl_.get());
  SSL_set_ex_data(ssl_.get(), sessionIndex(), this);
}

TlsSession::TlsSession(const TlsClientContext& context, int fd, const std::string& server_name,
                       TlsSessionSlot* slot)
    : ssl_(SSL_new(context.get())),
      server_(false),
      client_cert_configured_(context.hasClientCertificate()),
      verify_(context.verify()),
      server_name_(server_name),
      trust_(context.trustSource()),
      slot_(slot) {
  if (!ssl_) abort();
  SSL* ssl = ssl_.get();
  SSL_set_fd(ssl, fd);
  // The upstream's first bytes, as OpenSSL reads them: a plain HTTP server's answer
  // ("HTTP/1.1 400") is evidence that a failed record parse alone would not give. A peek before
  // each handshake step missed an answer that arrived within the step (between the ClientHello
  // going out and the read after it), seen under load.
  recording_first_bytes_ = true;
  watchSocketReads();
  SSL_set_connect_state(ssl);
  SSL_set_ex_data(ssl, sessionIndex(), this);
  const bool ip = isIpAddress(server_name);
  // RFC 6066 3: SNI carries host names only, never an address.
  if (!ip && !server_name.empty()) {
    // SSL_set_tlsext_host_name, without the macro's C cast; OpenSSL copies the name.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(server_name.c_str()));
  }
  if (verify_ && !server_name.empty()) {
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str());
    } else {
      SSL_set1_host(ssl, server_name.c_str());
    }
  }
  if (slot_ != nullptr && slot_->session && SSL_SESSION_is_resumable(slot_->session.get()) == 1) {
    SSL_set_session(ssl, slot_->session.get());
  }
}

TlsSession::~TlsSession() = default;

TlsSession* TlsSession::from(SSL* ssl) {
  return static_cast<TlsSession*>(SSL_get_ex_data(ssl, sessionIndex()));
}

void TlsSession::noteVerifyFailure(int error, X509* cert) {
  if (verify_error_ != X509_V_OK) return;  // the first is the story
  verify_error_ = error;
  if (cert != nullptr && X509_up_ref(cert) == 1) verify_cert_.reset(cert);
}

void TlsSession::noteServerName(const char* name) {
  if (name == nullptr) return;
  sni_ = printable(name, 253);
  X509* leaf = server_context_ != nullptr ? server_context_->leaf() : nullptr;
  sni_matches_ = leaf != nullptr && X509_check_host(leaf, name, 0, 0, nullptr) == 1;
}

void TlsSession::watchSocketReads() {
  BIO* rbio = SSL_get_rbio(ssl_.get());
  BIO_set_callback_arg(rbio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(rbio, &TlsSession::onSocketRead);
}

long TlsSession::onSocketRead(BIO* bio, int oper, const char* argp, size_t len,  // NOLINT
                              int /*argi*/, long /*argl*/, int ret,              // NOLINT
                              size_t* processed) {
  if (oper != (BIO_CB_READ | BIO_CB_RETURN)) return ret;
  auto* self = reinterpret_cast<TlsSession*>(BIO_get_callback_arg(bio));
  if (self == nullptr) return ret;
  const size_t got = ret > 0 && processed != nullptr ? *processed : 0;
  // A read that filled less than OpenSSL asked for (read-ahead asks for the buffer's room)
  // emptied the socket.
  self->socket_drained_ = got > 0 && got < len;
  if (!self->recording_first_bytes_) return ret;
  if (got > 0) {
    const size_t room = kFirstBytesKept - std::min(kFirstBytesKept, self->first_bytes_.size());
    self->first_bytes_.append(argp, std::min(room, got));
  } else if (ret == 0 && !BIO_should_retry(bio) && self->first_bytes_.empty()) {
    self->eof_before_bytes_ = true;
  }
  return ret;
}

TlsSession::Status TlsSession::handshake() {
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_do_handshake(ssl_.get());
  if (ret == 1) {
    established_ = true;
    recording_first_bytes_ = false;  // seen enough
    return Status::Ok;
  }
  int err = 0;
  return fail(ret, err);
}

TlsSession::Status TlsSession::fail(int ret, int& err) {
  const int saved_errno = errno;
  const int e = SSL_get_error(ssl_.get(), ret);
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return Status::WantRead;
    case SSL_ERROR_WANT_WRITE:
      return Status::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      if (established_) return Status::Eof;
      break;
    case SSL_ERROR_SYSCALL:
      if (established_ && saved_errno == 0) return Status::Eof;  // FIN without close_notify
      break;
    default:
      break;
  }
  recordError(e, saved_errno);
  err = sys_errno_ != 0 ? sys_errno_ : EPROTO;
  return Status::Failed;
}

void TlsSession::recordError(int ssl_error, int err) {
  failed_ = true;
  ssl_error_ = ssl_error;
  sys_errno_ = ssl_error == SSL_ERROR_SYSCALL ? err : 0;
  error_code_ = ERR_peek_last_error();
  if (error_code_ != 0) {
    const char* reason = ERR_reason_error_string(error_code_);
    error_text_ =
        reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(error_code_));
  } else if (sys_errno_ != 0) {
    error_text_ = std::strerror(sys_errno_);
  } else {
    error_text_ = "connection closed";
  }
  ERR_clear_error();
}

TlsSession::Status TlsSession::read(char* buffer, size_t len, size_t& n, int& err) {
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_read(ssl_.get(), buffer, static_cast<int>(std::min<size_t>(len, INT_MAX)));
  if (ret > 0) {
    n = static_cast<size_t>(ret);
    return Status::Ok;
  }
  n = 0;
  return fail(ret, err);
}

TlsSession::Status TlsSession::write(const char* data, size_t len, size_t& n, int& err) {
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_write(ssl_.get(), data, static_cast<int>(std::min<size_t>(len, INT_MAX)));
  if (ret > 0) {
    n = static_cast<size_t>(ret);
    return Status::Ok;
  }
  n = 0;
  const Status s = fail(ret, err);
  return s == Status::Eof ? Status::Failed : s;
}

bool TlsSession::hasPending() const { return SSL_has_pending(ssl_.get()) == 1; }

void TlsSession::shutdown() {
  if (!established_ || failed_) return;
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

bool TlsSession::resumed() const { return SSL_session_reused(ssl_.get()) == 1; }
std::string_view TlsSession::version() const { return SSL_get_version(ssl_.get()); }
X509* TlsSession::peerCertificate() const { return SSL_get0_peer_certificate(ssl_.get()); }

diagnose::TlsFailure TlsSession::failure() const {
  using diagnose::TlsFailureKind;
  diagnose::TlsFailure f;
  f.server_name = server_name_;
  f.err = sys_errno_;
  const int reason = ERR_GET_REASON(error_code_);
  if (verify_error_ != X509_V_OK) {
    const CertificateInfo cert = describeCertificate(verify_cert_.get());
    f.certificate = cert.facts;
    const std::string& subject = cert.facts.subject;
    switch (verify_error_) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        f.kind = TlsFailureKind::CertificateExpired;
        f.problem = "the certificate " + subject + " expired on " + cert.facts.not_after +
                    " (valid from " + cert.facts.not_before + ")";
        break;
      case X509_V_ERR_CERT_NOT_YET_VALID:
        f.kind = TlsFailureKind::CertificateNotYetValid;
        f.problem = "the certificate " + subject + " is not valid before " + cert.facts.not_before +
                    " (until " + cert.facts.not_after +
                    "): a clock is wrong, or it was deployed too early";
        break;
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_CERT_UNTRUSTED:
        f.kind = TlsFailureKind::UnknownCa;
        f.problem = "the certificate " + subject + " is issued by " + cert.facts.issuer +
                    ", which is not among " + trust_ + " (" +
                    X509_verify_cert_error_string(verify_error_) + ")";
        break;
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        f.kind = TlsFailureKind::NameMismatch;
        f.problem = "the certificate is for " + cert.facts.names + ", not for " + server_name_;
        break;
      default:
        f.kind = TlsFailureKind::CertificateInvalid;
        f.problem = "the certificate " + subject +
                    " failed verification: " + X509_verify_cert_error_string(verify_error_);
        break;
    }
    return f;
  }
  if (!first_bytes_.empty() && !diagnose::looksLikeTlsRecord(first_bytes_)) {
    f.kind = TlsFailureKind::NotTls;
    f.received = printable(first_bytes_, kFirstBytesKept);
    f.problem = "the upstream answered the TLS ClientHello with \"" + f.received +
                "\", not a TLS record: it speaks plain text (HTTP) on this port, where tls = true "
                "expects TLS: set tls = false, or point the endpoint at its TLS port";
    return f;
  }
  if (reason >= kAlertReasonOffset && reason < kAlertReasonOffset + 256) {
    const int alert = reason - kAlertReasonOffset;
    f.kind = TlsFailureKind::PeerAlert;
    f.alert = fmt::format("{} ({})", alertName(alert), alert);
    f.problem = "the upstream aborted the handshake with the alert \"" + f.alert + "\"";
    if (isCertificateAlert(alert)) {
      f.problem += client_cert_configured_
                       ? ": it rejected triaged's client certificate (tls_client_cert)"
                       : ": it wants a client certificate, and triaged sends none (set "
                         "tls_client_cert and tls_client_key)";
    } else if (alert == SSL_AD_PROTOCOL_VERSION) {
      f.problem += ": no TLS version both sides accept (triaged speaks TLS 1.2 and 1.3)";
    } else if (alert == SSL_AD_HANDSHAKE_FAILURE || alert == SSL_AD_INSUFFICIENT_SECURITY) {
      f.problem += ": usually no cipher suite or version both sides accept";
    }
    return f;
  }
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_WRONG_SSL_VERSION:
    case SSL_R_NO_CIPHERS_AVAILABLE:
    case SSL_R_WRONG_CIPHER_RETURNED:
    case SSL_R_NO_SHARED_CIPHER:
      f.kind = TlsFailureKind::NoSharedProtocol;
      f.problem = "no TLS version or cipher both sides accept (" + error_text_ +
                  "; triaged speaks TLS 1.2 and 1.3 with forward-secret AEAD ciphers)";
      return f;
    case SSL_R_WRONG_VERSION_NUMBER:
      if (!first_bytes_.empty()) {
        f.kind = TlsFailureKind::NoSharedProtocol;
        f.problem = "the upstream answered with a TLS version triaged does not speak (" +
                    error_text_ + "; first bytes " + diagnose::hexBytes(first_bytes_, 5) + ")";
        return f;
      }
      break;
    default:
      break;
  }
  if (ssl_error_ == SSL_ERROR_SYSCALL || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
      eof_before_bytes_) {
    f.kind = TlsFailureKind::Closed;
    const bool reset = sys_errno_ == ECONNRESET;
    f.problem = std::string("the upstream ") + (reset ? "reset" : "closed") +
                " the connection during the TLS handshake without an alert" +
                (first_bytes_.empty() ? ", before sending a byte" : "") +
                ": it may not speak TLS on this port, or dropped the handshake (a name it does "
                "not serve, a client certificate it wants)";
    return f;
  }
  f.kind = TlsFailureKind::Other;
  f.problem = "TLS handshake failed: " + error_text_;
  return f;
}

TlsClientFailure TlsSession::clientFailure() const {
  const int reason = ERR_GET_REASON(error_code_);
  if (reason >= kAlertReasonOffset && reason < kAlertReasonOffset + 256) {
    return sni_matches_ ? TlsClientFailure::ClientAlert : TlsClientFailure::UnknownSni;
  }
  switch (reason) {
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return TlsClientFailure::PlaintextHttp;
    case SSL_R_NO_SHARED_CIPHER:
      return TlsClientFailure::NoSharedCipher;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
      return TlsClientFailure::NoSharedVersion;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      return TlsClientFailure::Closed;
    default:
      break;
  }
  if (ssl_error_ == SSL_ERROR_SYSCALL) return TlsClientFailure::Closed;
  if (error_code_ != 0 && ERR_GET_LIB(error_code_) == ERR_LIB_SSL) {
    return TlsClientFailure::BadHello;
  }
  return TlsClientFailure::Other;
}

}  // namespace triaged::net
