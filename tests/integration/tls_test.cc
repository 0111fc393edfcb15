// TLS on both sides against the real binary, with certificates made at run time
// (harness/test_certificates.h): HTTPS clients through the TLS listener (curl, raw bad hellos,
// plain HTTP to the TLS port), and every named TLS failure against a TLS upstream (a Python ssl
// origin, harness/tls_upstream.py): what the client gets, the failure line's cause, evidence and
// hint, and the metrics. Also mTLS, pooled reuse and session resumption, the two plaintext/TLS
// mismatches, bad certificate files at --check-config and at start, and the certificate re-read.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/metrics_scrape.h"
#include "harness/process.h"
#include "harness/test_certificates.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kCurl = "/usr/bin/curl";
const std::string kTlsUpstreamScript =
    std::string(TRIAGED_SOURCE_DIR) + "/tests/integration/harness/tls_upstream.py";

// The Python ssl origin, on 127.0.0.1:0; killed by PID when the test ends (Process's guard).
class TlsUpstream {
 public:
  explicit TlsUpstream(std::vector<std::string> args) {
    std::vector<std::string> argv{kPython, kTlsUpstreamScript};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<Process>("tls_upstream", std::move(argv));
    const auto line = process_->waitForLine("listening ", 10s);
    if (!line) throw std::runtime_error("tls_upstream did not start:\n" + process_->output());
    address_ = line->substr(line->find(' ') + 1);
  }
  const std::string& address() const { return address_; }

 private:
  std::unique_ptr<Process> process_;
  std::string address_;
};

// A temporary directory with the test CA and the certificates the tests ask for.
struct Certificates {
  TempDir dir;
  TestCertificates certs{dir.path()};
  IssuedCertificate issue(const std::string& name, CertificateRequest request = {},
                          bool unknown_ca = false) const {
    return certs.issue(name, request, unknown_ca);
  }
};

std::string upstreamConfig(const std::string& address, const std::string& upstream_keys,
                           const std::string& server_keys = "") {
  return "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n" + server_keys +
         "\n[log]\nfailure_log_burst = 50\n\n[[upstream]]\nname = \"app\"\nendpoints = [\"" +
         address + "\"]\n" +
         (contains(upstream_keys, "connect_timeout") ? "" : "connect_timeout = \"2s\"\n") +
         upstream_keys + "\n";
}

std::string tlsListenerKeys(const IssuedCertificate& serving) {
  return "tls_listen = \"127.0.0.1:0\"\ntls_cert = \"" + serving.cert + "\"\ntls_key = \"" +
         serving.key + "\"\n";
}

uint16_t tlsPort(DaemonProcess& daemon) {
  const auto line = daemon.waitForLog("\"event\":\"listening\"");
  REQUIRE(line);
  const auto address = jsonField(*line, "tls_listen");
  REQUIRE(address);
  return static_cast<uint16_t>(std::stoul(address->substr(address->rfind(':') + 1)));
}

struct CurlResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CurlResult curl(std::vector<std::string> args) {
  std::vector<std::string> argv{kCurl, "-sS", "--max-time", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  // runToExit waits for the end of the output too: after curl exits, its last lines may still be
  // in the pipe (seen under load: the "-w status=..." line missing from a 200 exchange).
  Finished run = runToExit("curl", std::move(argv));
  return {run.exit_code.value_or(-1), std::move(run.output)};
}

// Sends `bytes` to 127.0.0.1:port and returns what comes back before the peer closes.
std::string rawExchange(uint16_t port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// A TLS client that cuts its records into TCP segments as the test says (OpenSSL over memory
// BIOs, the ciphertext sent by hand with TCP_NODELAY): several records in one segment, one record
// over many, a byte at a time. curl cannot do that, and the TLS listener's reads must cope with
// all of them. No certificate check: the peer is the test's own listener.
class SegmentingTlsClient {
 public:
  explicit SegmentingTlsClient(uint16_t port)
      : ctx_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free), ssl_(nullptr, SSL_free) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    timeval tv{0, 200000};  // recv waits at most 200 ms: the callers bound the whole wait
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!ctx_ || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    ssl_.reset(SSL_new(ctx_.get()));
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_.get(), in, out);  // the SSL owns both
    in_ = in;
    out_ = out;
    SSL_set_connect_state(ssl_.get());
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      const int ret = SSL_do_handshake(ssl_.get());
      if (!flush(SIZE_MAX)) return;
      if (ret == 1) {
        ready_ = true;
        return;
      }
      if (SSL_get_error(ssl_.get(), ret) != SSL_ERROR_WANT_READ || !receive()) return;
    }
  }
  ~SegmentingTlsClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  SegmentingTlsClient(const SegmentingTlsClient&) = delete;
  SegmentingTlsClient& operator=(const SegmentingTlsClient&) = delete;

  bool ready() const { return ready_; }

  // Each of `writes` becomes its own SSL_write (one record per 16 KiB); then all the ciphertext
  // goes out in TCP segments of at most `segment` bytes.
  bool send(const std::vector<std::string>& writes, size_t segment) {
    for (const auto& w : writes) {
      if (SSL_write(ssl_.get(), w.data(), static_cast<int>(w.size())) !=
          static_cast<int>(w.size())) {
        return false;
      }
    }
    return flush(segment);
  }

  // Plaintext read until `done` holds of all of it, or `timeout` passes.
  std::string readUntil(const std::function<bool(const std::string&)>& done,
                        std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[16384];
    while (!done(plain_) && std::chrono::steady_clock::now() < deadline) {
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n > 0) {
        plain_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (SSL_get_error(ssl_.get(), n) != SSL_ERROR_WANT_READ) break;
      if (!receive() && errno != EAGAIN && errno != EWOULDBLOCK) break;
    }
    ERR_clear_error();
    return plain_;
  }

 private:
  bool flush(size_t segment) {
    char buf[16384];
    int n = 0;
    while ((n = BIO_read(out_, buf, sizeof buf)) > 0) {
      for (size_t at = 0; at < static_cast<size_t>(n);) {
        const size_t len = std::min(segment, static_cast<size_t>(n) - at);
        const ssize_t sent = ::send(fd_, buf + at, len, MSG_NOSIGNAL);
        if (sent <= 0) return false;
        at += static_cast<size_t>(sent);
      }
    }
    return true;
  }
  bool receive() {
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    BIO_write(in_, buf, static_cast<int>(n));
    return true;
  }

  int fd_ = -1;
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx_;
  std::unique_ptr<SSL, void (*)(SSL*)> ssl_;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
  bool ready_ = false;
  std::string plain_;
};

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string failuresSeries(const std::string& cause) {
  return "triaged_failures_total{upstream=\"app\",cause=\"" + cause + "\"}";
}

// One request through the plain listener, and the one failure line it causes.
struct FailureSeen {
  Response response;
  std::string line;
};

// RFC 9209 error type of each TLS cause (PRODUCT.md).
std::string proxyStatusType(const std::string& cause) {
  if (cause == "tls_certificate_invalid") return "tls_certificate_error";
  if (cause == "tls_handshake_timeout") return "connection_timeout";
  return "tls_protocol_error";
}

FailureSeen failOnce(DaemonProcess& daemon, const std::string& cause, int status) {
  MetricsDelta metrics(daemon);
  HttpClient client(daemon.port());
  FailureSeen seen;
  seen.response = client.get("/tls");
  INFO("response head: " << seen.response.raw_head);
  CHECK(seen.response.status == status);
  CHECK(seen.response.header("x-triaged-cause") == cause);
  CHECK(seen.response.header("proxy-status") ==
        "triaged; error=" + proxyStatusType(cause) + "; details=\"" + cause + "\"");
  const auto line = daemon.waitForLog([&](const std::string& l) {
    return jsonField(l, "event") == "upstream_failure" && jsonField(l, "cause") == cause;
  });
  if (!line) FAIL_CHECK("daemon log: " << daemon.process().output());
  REQUIRE(line);
  seen.line = *line;
  metrics.after(failuresSeries(cause));
  CHECK(metrics.delta(failuresSeries(cause)) == 1);
  CHECK(jsonField(seen.line, "class") == (cause == "tls_handshake_timeout" ? "timeout" : "tls"));
  CHECK(jsonField(seen.line, "status") == std::to_string(status));
  CHECK(jsonField(seen.line, "origin") == "proxy");
  return seen;
}

bool has(const std::optional<std::string>& value, const std::string& needle) {
  return value && contains(*value, needle);
}

}  // namespace

// --- the TLS listener -----------------------------------------------------------------------

TEST_CASE("HTTPS clients through the TLS listener: TLS 1.3 and 1.2, ALPN http/1.1, beside plain",
          "[integration][tls]") {
  Certificates c;
  const auto serving = c.issue("serving");
  FakeUpstream fake;
  DaemonProcess daemon(upstreamConfig(fake.address(), "", tlsListenerKeys(serving)));
  const std::string url = "https://localhost:" + std::to_string(tlsPort(daemon)) + "/?size=100";
  const std::string resolve = "localhost:" + std::to_string(tlsPort(daemon)) + ":127.0.0.1";

  const auto v13 = curl({"-v", "--cacert", c.certs.caCert(), "--resolve", resolve, url, "-o",
                         "/dev/null", "-w", "status=%{http_code}\n"});
  INFO(v13.output);
  CHECK(v13.exit_code == 0);
  CHECK(contains(v13.output, "status=200"));
  CHECK(contains(v13.output, "TLSv1.3"));
  CHECK(contains(v13.output, "ALPN: server accepted http/1.1"));

  const auto v12 =
      curl({"-v", "--tlsv1.2", "--tls-max", "1.2", "--cacert", c.certs.caCert(), "--resolve",
            resolve, url, "-o", "/dev/null", "-w", "status=%{http_code}\n"});
  INFO(v12.output);
  CHECK(contains(v12.output, "status=200"));
  CHECK(contains(v12.output, "TLSv1.2 / ECDHE"));

  // Keep-alive over TLS: several requests on one connection.
  const auto keepalive =
      curl({"--cacert", c.certs.caCert(), "--resolve", resolve, url, url, url, "-o", "/dev/null",
            "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n"});
  INFO(keepalive.output);
  CHECK(contains(keepalive.output, "200 1\n200 0\n200 0\n"));

  // The plain listener still serves beside it.
  HttpClient plain(daemon.port());
  CHECK(plain.get("/?size=10").status == 200);

  const auto scrape = scrapeMetrics(daemon.adminPort());
  CHECK(sample(scrape,
               "triaged_tls_certificate_expiry_timestamp_seconds{upstream=\"\",subject=\"CN="
               "localhost\"}") > static_cast<double>(std::time(nullptr)));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("the TLS listener reads every request however the records fall into segments",
          "[integration][tls]") {
  // Many records in one segment (pipelining: the reads must not stop at the first record while
  // OpenSSL holds the others), a record cut into many segments, a byte at a time, and a 1 MiB
  // upload in 64 records followed by a request in the same flight.
  Certificates c;
  const auto serving = c.issue("serving");
  FakeUpstream fake;
  DaemonProcess daemon(upstreamConfig(fake.address(), "", tlsListenerKeys(serving)));
  const uint16_t port = tlsPort(daemon);
  const std::string get = "GET / HTTP/1.1\r\nHost: app\r\n\r\n";
  const auto responses = [](size_t n) {
    return [n](const std::string& text) {
      return count(text, "HTTP/1.1 200 ") == n && count(text, "\r\n\r\nok\n") == n;
    };
  };
  for (const size_t segment : {size_t{1}, size_t{7}, size_t{1400}, SIZE_MAX}) {
    INFO("TCP segments of at most " << segment << " bytes");
    SegmentingTlsClient client(port);
    REQUIRE(client.ready());
    // 20 requests, one record each, sent together.
    REQUIRE(client.send(std::vector<std::string>(20, get), segment));
    std::string got = client.readUntil(responses(20), 10s);
    CHECK(count(got, "HTTP/1.1 200 ") == 20);
    // 20 more in a single record.
    std::string twenty;
    for (int i = 0; i < 20; ++i) twenty += get;
    REQUIRE(client.send({twenty}, segment));
    got = client.readUntil(responses(40), 10s);
    CHECK(count(got, "HTTP/1.1 200 ") == 40);
  }
  for (const size_t segment : {size_t{1400}, SIZE_MAX}) {
    INFO("TCP segments of at most " << segment << " bytes");
    SegmentingTlsClient client(port);
    REQUIRE(client.ready());
    const std::string body = patternBody(1 << 20);
    std::vector<std::string> writes{"POST /echo HTTP/1.1\r\nHost: app\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n"};
    for (size_t at = 0; at < body.size(); at += 16384) writes.push_back(body.substr(at, 16384));
    writes.push_back(get);
    REQUIRE(client.send(writes, segment));
    const std::string got = client.readUntil(
        [](const std::string& text) { return count(text, "\r\n\r\nok\n") == 1; }, 20s);
    CHECK(contains(got, "body_bytes 1048576\n"));
    CHECK(contains(got, "body_fnv1a " + fnv1aHex(body) + "\n"));
    CHECK(count(got, "HTTP/1.1 200 ") == 2);
  }
  CHECK(daemon.stop() == 0);
}

TEST_CASE("client handshake failures are counted by reason and rate-limited in the log",
          "[integration][tls]") {
  Certificates c;
  const auto serving = c.issue("serving");
  FakeUpstream fake;
  DaemonProcess daemon(upstreamConfig(fake.address(), "", tlsListenerKeys(serving)));
  const uint16_t port = tlsPort(daemon);
  const auto failures = [&](const std::string& reason) {
    return "triaged_tls_client_handshake_failures_total{reason=\"" + reason + "\"}";
  };
  MetricsDelta metrics(daemon);

  // Plain HTTP to the TLS port.
  CHECK(rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").empty());
  // A bad ClientHello: a record of the wrong type and version.
  CHECK(rawExchange(port, std::string("\x00\x01garbage, not TLS\r\n\r\n", 22)).empty());
  // A client that speaks only TLS 1.1.
  const auto old = curl({"-k", "--tlsv1.0", "--tls-max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0",
                         "https://127.0.0.1:" + std::to_string(port) + "/"});
  CHECK(old.exit_code != 0);
  // A name the certificate does not carry: curl checks it after the handshake, and leaves.
  const auto sni = curl({"--cacert", c.certs.caCert(), "--resolve",
                         "other.example:" + std::to_string(port) + ":127.0.0.1",
                         "https://other.example:" + std::to_string(port) + "/"});
  CHECK(sni.exit_code != 0);

  metrics.after(failures("unknown_sni"));
  CHECK(metrics.delta(failures("plaintext_http")) == 1);
  CHECK(metrics.delta(failures("bad_hello")) == 1);
  CHECK(metrics.delta(failures("no_shared_version")) == 1);
  CHECK(metrics.delta(failures("unknown_sni")) == 1);
  const auto sni_line = daemon.waitForLog([](const std::string& l) {
    return jsonField(l, "event") == "tls_client_failure" && jsonField(l, "reason") == "unknown_sni";
  });
  REQUIRE(sni_line);
  CHECK(jsonField(*sni_line, "sni") == "other.example");
  CHECK(has(jsonField(*sni_line, "hint"), "unknown_sni"));

  // A scan: 80 bad hellos are 80 counts, and at most the burst (50) of lines plus a summary.
  // A ClientHello of length 0: a record OpenSSL rejects at once.
  const std::string short_hello("\x16\x03\x01\x00\x04\x01\x00\x00\x00", 9);
  for (int i = 0; i < 80; ++i) rawExchange(port, short_hello);
  const auto summary = daemon.waitForLog(
      [](const std::string& l) {
        return jsonField(l, "event") == "tls_client_failure_suppressed" &&
               jsonField(l, "cause") == "bad_hello";
      },
      15s);
  REQUIRE(summary);
  size_t lines = 0;
  for (const auto& l : daemon.logLinesContaining("\"event\":\"tls_client_failure\"")) {
    if (jsonField(l, "reason") == "bad_hello") ++lines;
  }
  CHECK(lines <= 50);
  CHECK(std::stoul(jsonField(*summary, "suppressed").value_or("0")) + lines == 81);
  CHECK(sample(scrapeMetrics(daemon.adminPort()), failures("bad_hello")) ==
        sample(metrics.before(), failures("bad_hello")) + 81);
  CHECK(daemon.stop() == 0);
}

// --- upstream TLS: the happy path -----------------------------------------------------------

TEST_CASE("a TLS upstream: verified, pooled connections reused, sessions resumed, cert as metric",
          "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key});
  DaemonProcess daemon(
      upstreamConfig(upstream.address(), "tls = true\ntls_ca = \"" + c.certs.caCert() + "\"\n"));
  HttpClient client(daemon.port());
  for (int i = 0; i < 3; ++i) {
    const auto r = client.get("/");
    REQUIRE(r.status == 200);
    CHECK(r.header("x-tls-version") == "TLSv1.3");
  }
  const auto scrape = scrapeMetrics(daemon.adminPort());
  // Three requests, one handshake: the pooled TLS connection was reused.
  CHECK(sample(scrape,
               "triaged_upstream_tls_handshakes_total{upstream=\"app\",resumed=\"false\"}") == 1);
  CHECK(sample(scrape,
               "triaged_tls_certificate_expiry_timestamp_seconds{upstream=\"app\","
               "subject=\"CN=localhost\"}") > static_cast<double>(std::time(nullptr)));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("new TLS connections to an endpoint resume its last session", "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key, "--close"});
  DaemonProcess daemon(upstreamConfig(
      upstream.address(),
      "tls = true\ntls_ca = \"" + c.certs.caCert() + "\"\ntls_server_name = \"localhost\"\n"));
  HttpClient client(daemon.port());
  const auto first = client.get("/");
  REQUIRE(first.status == 200);
  CHECK(first.header("x-session-reused") == "false");
  const auto second = client.get("/");  // the upstream closed the first connection
  REQUIRE(second.status == 200);
  CHECK(second.header("x-session-reused") == "true");
  const auto scrape = scrapeMetrics(daemon.adminPort());
  CHECK(sample(scrape,
               "triaged_upstream_tls_handshakes_total{upstream=\"app\",resumed=\"true\"}") == 1);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("mTLS: triaged's client certificate is sent and accepted", "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  CertificateRequest client_request;
  client_request.common_name = "triaged-client";
  client_request.client = true;
  const auto client_cert = c.issue("client", client_request);
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key, "--client-ca", c.certs.caCert()});
  DaemonProcess daemon(
      upstreamConfig(upstream.address(), "tls = true\ntls_ca = \"" + c.certs.caCert() +
                                             "\"\ntls_client_cert = \"" + client_cert.cert +
                                             "\"\ntls_client_key = \"" + client_cert.key + "\"\n"));
  HttpClient client(daemon.port());
  const auto r = client.get("/");
  REQUIRE(r.status == 200);
  CHECK(r.header("x-client-cert") == "commonName=triaged-client");
  CHECK(daemon.stop() == 0);
}

// --- upstream TLS: every failure named --------------------------------------------------------

TEST_CASE("an expired upstream certificate: 502 tls_certificate_invalid with its dates",
          "[integration][tls]") {
  Certificates c;
  CertificateRequest expired;
  expired.not_before_days = -60;
  expired.not_after_days = -30;
  const auto cert = c.issue("expired", expired);
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key});
  DaemonProcess daemon(upstreamConfig(
      upstream.address(), "tls = true\nretries = 0\ntls_ca = \"" + c.certs.caCert() + "\"\n"));
  const auto seen = failOnce(daemon, "tls_certificate_invalid", 502);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "phase") == "tls_handshake");
  CHECK(has(jsonField(seen.line, "tls_problem"), "expired on "));
  CHECK(jsonField(seen.line, "tls_subject") == "CN=localhost");
  CHECK(jsonField(seen.line, "tls_issuer") == "CN=triaged test CA");
  CHECK(jsonField(seen.line, "tls_not_after").has_value());
  CHECK(has(jsonField(seen.line, "hint"), "Renew an expired certificate"));
  CHECK(has(jsonField(seen.line, "hint"), *jsonField(seen.line, "tls_not_after")));
  // The certificate as seen, expiry in the past: the alert's input.
  CHECK(sample(scrapeMetrics(daemon.adminPort()),
               "triaged_tls_certificate_expiry_timestamp_seconds{upstream=\"app\",subject=\"CN="
               "localhost\"}") < static_cast<double>(std::time(nullptr)));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("a not yet valid upstream certificate: tls_certificate_invalid with its start date",
          "[integration][tls]") {
  Certificates c;
  CertificateRequest future;
  future.not_before_days = 10;
  future.not_after_days = 40;
  const auto cert = c.issue("future", future);
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key});
  DaemonProcess daemon(upstreamConfig(
      upstream.address(), "tls = true\nretries = 0\ntls_ca = \"" + c.certs.caCert() + "\"\n"));
  const auto seen = failOnce(daemon, "tls_certificate_invalid", 502);
  INFO(seen.line);
  CHECK(has(jsonField(seen.line, "tls_problem"),
            "is not valid before " + jsonField(seen.line, "tls_not_before").value_or("?")));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("an upstream certificate from an unknown CA: tls_certificate_invalid naming the issuer",
          "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("stranger", {}, /*unknown_ca=*/true);
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key});
  DaemonProcess daemon(upstreamConfig(
      upstream.address(), "tls = true\nretries = 0\ntls_ca = \"" + c.certs.caCert() + "\"\n"));
  const auto seen = failOnce(daemon, "tls_certificate_invalid", 502);
  INFO(seen.line);
  CHECK(has(jsonField(seen.line, "tls_problem"), "is issued by CN=unknown test CA"));
  CHECK(has(jsonField(seen.line, "tls_problem"), c.certs.caCert()));
  CHECK(jsonField(seen.line, "tls_issuer") == "CN=unknown test CA");
  CHECK(has(jsonField(seen.line, "hint"), "add its issuing CA to tls_ca"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("an upstream certificate for another name: tls_certificate_invalid with its names",
          "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key});
  DaemonProcess daemon(
      upstreamConfig(upstream.address(),
                     "tls = true\nretries = 0\ntls_server_name = \"app.internal\"\ntls_ca = \"" +
                         c.certs.caCert() + "\"\n"));
  const auto seen = failOnce(daemon, "tls_certificate_invalid", 502);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "tls_server_name") == "app.internal");
  CHECK(has(jsonField(seen.line, "tls_problem"),
            "is for DNS:localhost, IP:127.0.0.1, not for app.internal"));
  CHECK(jsonField(seen.line, "tls_names") == "DNS:localhost, IP:127.0.0.1");
  CHECK(has(jsonField(seen.line, "hint"), "set tls_server_name to a name it carries"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("an upstream that wants a client certificate triaged lacks: tls_handshake_failed",
          "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key, "--client-ca", c.certs.caCert()});
  DaemonProcess daemon(upstreamConfig(
      upstream.address(), "tls = true\nretries = 0\ntls_ca = \"" + c.certs.caCert() + "\"\n"));
  const auto seen = failOnce(daemon, "tls_handshake_failed", 502);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "tls_alert") == "certificate required (116)");
  CHECK(has(jsonField(seen.line, "tls_problem"), "triaged sends none"));
  CHECK(has(jsonField(seen.line, "hint"), "tls_client_cert and tls_client_key"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("an upstream that rejects triaged's client certificate: tls_handshake_failed, the alert",
          "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  CertificateRequest client_request;
  client_request.common_name = "triaged-client";
  client_request.client = true;
  const auto stranger = c.issue("client", client_request, /*unknown_ca=*/true);
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key, "--client-ca", c.certs.caCert()});
  DaemonProcess daemon(
      upstreamConfig(upstream.address(), "tls = true\nretries = 0\ntls_ca = \"" + c.certs.caCert() +
                                             "\"\ntls_client_cert = \"" + stranger.cert +
                                             "\"\ntls_client_key = \"" + stranger.key + "\"\n"));
  const auto seen = failOnce(daemon, "tls_handshake_failed", 502);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "tls_alert") == "unknown CA (48)");
  CHECK(has(jsonField(seen.line, "tls_problem"), "rejected triaged's client certificate"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("no TLS version in common with the upstream: tls_handshake_failed",
          "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key, "--max-version", "TLSv1_1"});
  DaemonProcess daemon(upstreamConfig(
      upstream.address(), "tls = true\nretries = 0\ntls_ca = \"" + c.certs.caCert() + "\"\n"));
  const auto seen = failOnce(daemon, "tls_handshake_failed", 502);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "tls_alert") == "protocol version (70)");
  CHECK(has(jsonField(seen.line, "tls_problem"), "no TLS version both sides accept"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("no cipher in common with the upstream: tls_handshake_failed", "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  TlsUpstream upstream({"--cert", cert.cert, "--key", cert.key, "--ciphers", "AES128-SHA"});
  DaemonProcess daemon(upstreamConfig(
      upstream.address(), "tls = true\nretries = 0\ntls_ca = \"" + c.certs.caCert() + "\"\n"));
  const auto seen = failOnce(daemon, "tls_handshake_failed", 502);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "tls_alert") == "handshake failure (40)");
  CHECK(has(jsonField(seen.line, "tls_problem"), "no cipher suite or version"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("plain HTTP on a port configured for TLS: tls_protocol_mismatch, flip tls off",
          "[integration][tls]") {
  TlsUpstream upstream({"--mode", "plain"});
  DaemonProcess daemon(upstreamConfig(upstream.address(), "tls = true\nretries = 0\n"));
  const auto seen = failOnce(daemon, "tls_protocol_mismatch", 502);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "phase") == "tls_handshake");
  CHECK(has(jsonField(seen.line, "tls_received"), "HTTP/1.1 400"));
  CHECK(has(jsonField(seen.line, "tls_problem"), "set tls = false"));
  CHECK(has(jsonField(seen.line, "hint"), "Flip tls in [[upstream]] app"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("TLS on a port configured for plain HTTP: tls_protocol_mismatch, not malformed_response",
          "[integration][tls]") {
  Certificates c;
  const auto cert = c.issue("upstream");
  TlsUpstream upstream({"--mode", "tls-alert", "--cert", cert.cert, "--key", cert.key});
  DaemonProcess daemon(upstreamConfig(upstream.address(), "retries = 0\n"));
  const auto seen = failOnce(daemon, "tls_protocol_mismatch", 502);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "tls_received") == "15 03 03 00 02 02 46");
  CHECK(has(jsonField(seen.line, "tls_problem"), "set tls = true"));
  CHECK(daemon.logLinesContaining("\"cause\":\"malformed_response\"").empty());
  CHECK(daemon.stop() == 0);
}

TEST_CASE("a TLS handshake that does not finish: 504 tls_handshake_timeout, not connect_timeout",
          "[integration][tls]") {
  TlsUpstream upstream({"--mode", "silent"});
  DaemonProcess daemon(
      upstreamConfig(upstream.address(), "tls = true\nretries = 0\nconnect_timeout = \"300ms\"\n"));
  const auto seen = failOnce(daemon, "tls_handshake_timeout", 504);
  INFO(seen.line);
  CHECK(jsonField(seen.line, "phase") == "tls_handshake");
  CHECK(jsonField(seen.line, "connect_ms") != "null");  // TCP did connect
  CHECK(has(jsonField(seen.line, "hint"), "TLS handshake did not finish within connect_timeout"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("a TLS handshake failure is retried like a failed connect", "[integration][tls]") {
  Certificates c;
  CertificateRequest expired;
  expired.not_before_days = -60;
  expired.not_after_days = -30;
  const auto bad = c.issue("expired", expired);
  const auto good = c.issue("good");
  TlsUpstream broken({"--cert", bad.cert, "--key", bad.key});
  TlsUpstream healthy({"--cert", good.cert, "--key", good.key});
  DaemonProcess daemon(
      "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\n[[upstream]]\nname = "
      "\"app\"\nendpoints = [\"" +
      broken.address() + "\", \"" + healthy.address() + "\"]\ntls = true\ntls_ca = \"" +
      c.certs.caCert() + "\"\n");
  HttpClient client(daemon.port());
  // Round robin starts at the broken endpoint for one of the first two requests.
  for (int i = 0; i < 2; ++i) CHECK(client.get("/").status == 200);
  const auto retry = daemon.waitForLog([](const std::string& l) {
    return jsonField(l, "event") == "upstream_retry" &&
           jsonField(l, "cause") == "tls_certificate_invalid";
  });
  REQUIRE(retry);
  CHECK(jsonField(*retry, "retry_decision") == "retried on a fresh connection");
  CHECK(daemon.stop() == 0);
}

// --- bad input --------------------------------------------------------------------------------

TEST_CASE("bad certificate files: --check-config and the daemon name FILE:LINE: KEY and why",
          "[integration][tls]") {
  Certificates c;
  const auto serving = c.issue("serving");
  const auto other = c.issue("other");
  const std::string garbage = c.dir.write("garbage.pem", "not a certificate\n");
  const std::string missing = c.dir.path() + "/missing.pem";

  struct Case {
    std::string what;
    std::string server_keys;
    std::string upstream_keys;
    std::string expected;  // the one problem line, after "FILE:"
  };
  const std::vector<Case> cases{
      {"missing certificate",
       "tls_listen = \"127.0.0.1:0\"\ntls_cert = \"" + missing + "\"\ntls_key = \"" + serving.key +
           "\"\n",
       "", "5: server.tls_cert: cannot read " + missing + ": No such file or directory"},
      {"not a certificate",
       "tls_listen = \"127.0.0.1:0\"\ntls_cert = \"" + garbage + "\"\ntls_key = \"" + serving.key +
           "\"\n",
       "", "5: server.tls_cert: " + garbage + " holds no usable PEM certificate chain"},
      {"key of another certificate",
       "tls_listen = \"127.0.0.1:0\"\ntls_cert = \"" + serving.cert + "\"\ntls_key = \"" +
           other.key + "\"\n",
       "",
       "6: server.tls_key: the key in " + other.key + " does not match the certificate in " +
           serving.cert},
      {"unreadable CA bundle", "", "tls = true\ntls_ca = \"" + c.dir.path() + "\"\n",
       "13: upstream[0].tls_ca: cannot read " + c.dir.path() + ": Is a directory"},
      {"client certificate without its key", "",
       "tls = true\ntls_client_cert = \"" + serving.cert + "\"\n",
       "13: upstream[0].tls_client_key: required with tls_client_cert"},
      {"TLS settings without tls", "", "tls_ca = \"" + c.certs.caCert() + "\"\n",
       "12: upstream[0].tls_ca: only used with tls = true in this [[upstream]]"},
  };
  for (const auto& tc : cases) {
    SECTION(tc.what) {
      const std::string path =
          c.dir.write("bad.toml", upstreamConfig("127.0.0.1:1", tc.upstream_keys, tc.server_keys));
      Process check("check", {TRIAGED_BINARY, "--check-config", "--config", path});
      CHECK(check.waitExit(10s) == 1);
      // (waitForLine: the output may still be on its way from the pipe after the exit.)
      CHECK(check.waitForLine(path + ":" + tc.expected, 5s));
      INFO(check.output());
      // The daemon refuses to start with the same message.
      Process run("run", {TRIAGED_BINARY, "--config", path});
      CHECK(run.waitExit(10s) == 1);
      CHECK(run.waitForLine(path + ":" + tc.expected, 5s));
    }
  }
}

// --- the certificate re-read --------------------------------------------------------------------

TEST_CASE("the serving certificate is re-read when its files change, and a bad pair is refused",
          "[integration][tls]") {
  Certificates c;
  const auto first = c.issue("first");
  CertificateRequest longer;
  longer.not_after_days = 90;
  const auto second = c.issue("second", longer);
  const std::string cert = c.dir.path() + "/serving.pem";
  const std::string key = c.dir.path() + "/serving.key";
  std::filesystem::copy_file(first.cert, cert);
  std::filesystem::copy_file(first.key, key);
  FakeUpstream fake;
  DaemonProcess daemon(upstreamConfig(
      fake.address(), "",
      "tls_listen = \"127.0.0.1:0\"\ntls_cert = \"" + cert + "\"\ntls_key = \"" + key + "\"\n"));
  const std::string series =
      "triaged_tls_certificate_expiry_timestamp_seconds{upstream=\"\",subject=\"CN=localhost\"}";
  const double before = sample(scrapeMetrics(daemon.adminPort()), series);

  // A certificate whose key has not been written yet: refused, the old one stays.
  std::filesystem::copy_file(second.cert, cert, std::filesystem::copy_options::overwrite_existing);
  const auto refused = daemon.waitForLog("\"event\":\"tls_certificate_reload_failed\"", 15s);
  REQUIRE(refused);
  CHECK(jsonField(*refused, "key") == "server.tls_key");
  CHECK(sample(scrapeMetrics(daemon.adminPort()), series) == before);
  const std::string url = "https://localhost:" + std::to_string(tlsPort(daemon)) + "/";
  const std::string resolve = "localhost:" + std::to_string(tlsPort(daemon)) + ":127.0.0.1";
  const auto kept = curl({"--cacert", c.certs.caCert(), "--resolve", resolve, url, "-o",
                          "/dev/null", "-w", "status=%{http_code}"});
  INFO(kept.output);
  CHECK(contains(kept.output, "status=200"));

  // The key follows: the new pair is served to new connections.
  std::filesystem::copy_file(second.key, key, std::filesystem::copy_options::overwrite_existing);
  REQUIRE(daemon.waitForLog("\"event\":\"tls_certificate_reloaded\"", 15s));
  const double after = sample(scrapeMetrics(daemon.adminPort()), series);
  CHECK(after > before + 50 * 86400);
  const auto served = curl({"-v", "--cacert", c.certs.caCert(), "--resolve", resolve, url, "-o",
                            "/dev/null", "-w", "status=%{http_code}"});
  INFO(served.output);
  CHECK(contains(served.output, "status=200"));
  CHECK(daemon.stop() == 0);
}

}  // namespace triaged::test
