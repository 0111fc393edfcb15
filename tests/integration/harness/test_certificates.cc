#include "harness/test_certificates.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace triaged::test {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

KeyPtr newKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("EC key generation failed");
  return key;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

CertPtr makeCertificate(EVP_PKEY* key, const std::string& cn, long not_before_days,
                        long not_after_days) {  // NOLINT(google-runtime-int)
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1;  // NOLINT(google-runtime-int)
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_days * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

void writePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  const bool ok = cert != nullptr
                      ? PEM_write_X509(f, cert) == 1
                      : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  if (!ok) throw std::runtime_error("cannot write " + path);
}

KeyPtr readKey(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("cannot read " + path);
  KeyPtr key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return key;
}

CertPtr readCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("cannot read " + path);
  CertPtr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return cert;
}

IssuedCertificate makeCa(const std::string& dir, const std::string& name, const std::string& file) {
  KeyPtr key = newKey();
  CertPtr cert = makeCertificate(key.get(), name, -1, 3650);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  X509_sign(cert.get(), key.get(), EVP_sha256());
  IssuedCertificate out{dir + "/" + file + ".pem", dir + "/" + file + ".key"};
  writePem(out.cert, cert.get(), nullptr);
  writePem(out.key, nullptr, key.get());
  return out;
}

}  // namespace

TestCertificates::TestCertificates(std::string dir)
    : dir_(std::move(dir)),
      ca_(makeCa(dir_, "triaged test CA", "ca")),
      unknown_ca_(makeCa(dir_, "unknown test CA", "unknown-ca")) {}

IssuedCertificate TestCertificates::issue(const std::string& name,
                                          const CertificateRequest& request,
                                          bool by_unknown_ca) const {
  const IssuedCertificate& ca = by_unknown_ca ? unknown_ca_ : ca_;
  KeyPtr ca_key = readKey(ca.key);
  CertPtr ca_cert = readCert(ca.cert);
  KeyPtr key = newKey();
  CertPtr cert = makeCertificate(key.get(), request.common_name, request.not_before_days,
                                 request.not_after_days);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  std::string san;
  for (const auto& dns : request.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + dns;
  for (const auto& ip : request.ip_addresses) san += (san.empty() ? "IP:" : ",IP:") + ip;
  if (!san.empty()) addExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, san);
  addExtension(cert.get(), ca_cert.get(), NID_ext_key_usage,
               request.client ? "clientAuth" : "serverAuth");
  addExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
  X509_sign(cert.get(), ca_key.get(), EVP_sha256());
  IssuedCertificate out{dir_ + "/" + name + ".pem", dir_ + "/" + name + ".key"};
  writePem(out.cert, cert.get(), nullptr);
  writePem(out.key, nullptr, key.get());
  return out;
}

}  // namespace triaged::test
