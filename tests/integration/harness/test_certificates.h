#pragma once

// Certificates made at run time for the TLS tests, with OpenSSL's API (EC P-256, SHA-256), into
// a directory of the test's: a CA, and certificates it (or another, unknown CA) signs with the
// names and validity a test asks for. No private key is committed to the repository.

#include <string>
#include <vector>

namespace triaged::test {

struct IssuedCertificate {
  std::string cert;  // PEM file path
  std::string key;   // PEM file path
};

struct CertificateRequest {
  std::string common_name = "localhost";
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1"};
  long not_before_days = -1;  // NOLINT(google-runtime-int): relative to now
  long not_after_days = 30;   // NOLINT(google-runtime-int)
  bool client = false;        // extendedKeyUsage clientAuth instead of serverAuth
};

class TestCertificates {
 public:
  // Makes the CA ("triaged test CA") and a second one the tests never trust ("unknown CA").
  explicit TestCertificates(std::string dir);

  const std::string& caCert() const { return ca_.cert; }
  // Signed by the test CA, or by the unknown CA.
  IssuedCertificate issue(const std::string& name, const CertificateRequest& request,
                          bool by_unknown_ca = false) const;

 private:
  std::string dir_;
  IssuedCertificate ca_;
  IssuedCertificate unknown_ca_;
};

}  // namespace triaged::test
