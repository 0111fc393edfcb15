#include "harness/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

extern char** environ;  // NOLINT: POSIX declares it nowhere in a header

namespace triaged::test {
namespace {

void closeFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

int remainingMs(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

Process::Process(std::string name, std::vector<std::string> argv,
                 std::map<std::string, std::string> extra_env)
    : name_(std::move(name)) {
  if (argv.empty()) throw std::invalid_argument("Process: empty argv");
  const char* verbose = getenv("TRIAGED_TEST_VERBOSE");
  verbose_ = verbose != nullptr && std::string_view(verbose) == "1";

  // Everything the child needs is built before fork(): only async-signal-safe calls after it.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string_view::npos && extra_env.count(std::string(entry.substr(0, eq))) != 0) {
      continue;
    }
    env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out[2];
  int exec_err[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (pipe2(exec_err, O_CLOEXEC) != 0 || pipe2(stop_fd_, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    throw std::runtime_error("pipe2 failed");
  }
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    close(exec_err[0]);
    close(exec_err[1]);
    throw std::runtime_error(std::string("fork failed: ") + strerror(e));
  }
  if (pid_ == 0) {
    // Child. If the test runner dies, so does the child.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    // Keep the exec-error pipe as fd 3 (close-on-exec) and close everything above it.
    if (exec_err[1] != 3) dup2(exec_err[1], 3);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    close_range(4, ~0U, 0);
    execve(args[0], args.data(), envp.data());
    int e = errno;
    ssize_t ignored = write(3, &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  close(out[1]);
  close(exec_err[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_err[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(exec_err[0]);
  if (n > 0) {
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    close(out[0]);
    closeFd(stop_fd_[0]);
    closeFd(stop_fd_[1]);
    throw std::runtime_error("cannot execute " + argv[0] + ": " + strerror(child_errno));
  }
  out_fd_ = out[0];
  // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C". -1 on kernels before 5.3,
  // where waitExit() falls back to a bounded poll.
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  reader_ = std::thread([this] { readerLoop(); });
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    tryReap(true);
  }
  if (stop_fd_[1] >= 0) {
    char b = 1;
    ssize_t ignored = write(stop_fd_[1], &b, 1);
    (void)ignored;
  }
  if (reader_.joinable()) reader_.join();
  closeFd(out_fd_);
  closeFd(pidfd_);
  closeFd(stop_fd_[0]);
  closeFd(stop_fd_[1]);
}

void Process::readerLoop() {
  std::string partial;
  char buf[8192];
  bool stopping = false;
  auto emit = [this](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (verbose_) fprintf(stderr, "[%s] %s\n", name_.c_str(), line.c_str());
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(line));
    cv_.notify_all();
  };
  for (;;) {
    if (!stopping) {
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {stop_fd_[0], POLLIN, 0}};
      int r = poll(fds, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if ((fds[1].revents & POLLIN) != 0) {
        // Destruction: the child is reaped; take what is left without blocking, then stop.
        stopping = true;
        fcntl(out_fd_, F_SETFL, fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
      }
    }
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0 && errno == EAGAIN && !stopping) continue;
      break;
    }
    partial.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      emit(partial.substr(start, nl - start));
    }
    partial.erase(0, start);
  }
  if (!partial.empty()) emit(partial);
  std::lock_guard<std::mutex> lock(mu_);
  output_ended_ = true;
  cv_.notify_all();
}

std::optional<std::string> Process::waitForLine(const std::function<bool(const std::string&)>& pred,
                                                std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  size_t checked = 0;
  for (;;) {
    for (; checked < lines_.size(); ++checked) {
      if (pred(lines_[checked])) return lines_[checked];
    }
    if (output_ended_) return std::nullopt;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (; checked < lines_.size(); ++checked) {
        if (pred(lines_[checked])) return lines_[checked];
      }
      return std::nullopt;
    }
  }
}

std::optional<std::string> Process::waitForLine(std::string_view substring,
                                                std::chrono::milliseconds timeout) {
  std::string s(substring);
  return waitForLine([&s](const std::string& line) { return line.find(s) != std::string::npos; },
                     timeout);
}

size_t Process::waitForLineCount(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return lines_.size() > count || output_ended_; });
  return lines_.size();
}

std::vector<std::string> Process::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

std::vector<std::string> Process::linesContaining(std::string_view substring) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& l : lines_) {
    if (l.find(substring) != std::string::npos) out.push_back(l);
  }
  return out;
}

std::string Process::output() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& l : lines_) out += l + "\n";
  return out;
}

bool Process::signal(int sig) {
  if (pid_ <= 0 || exit_code_) return false;
  return kill(pid_, sig) == 0;
}

bool Process::tryReap(bool block) {
  if (exit_code_) return true;
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_code_ = 128 + WTERMSIG(status);
  } else {
    exit_code_ = -1;
  }
  return true;
}

std::optional<int> Process::waitExit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (tryReap(false)) return exit_code_;
    int left = remainingMs(deadline);
    if (left == 0) return std::nullopt;
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      poll(&p, 1, left);
    } else {
      poll(nullptr, 0, std::min(left, 5));  // no pidfd (old kernel): a bounded poll
    }
  }
}

bool Process::running() { return !tryReap(false); }

uint64_t Process::statusFieldKb(std::string_view field) const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return 0;
}

uint64_t Process::rssKb() const { return statusFieldKb("VmRSS"); }
uint64_t Process::peakRssKb() const { return statusFieldKb("VmHWM"); }

bool Process::resetPeakRss() const {
  std::ofstream clear("/proc/" + std::to_string(pid_) + "/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

Finished runToExit(std::string name, std::vector<std::string> argv,
                   std::map<std::string, std::string> extra_env,
                   std::chrono::milliseconds timeout) {
  Process process(std::move(name), std::move(argv), std::move(extra_env));
  Finished run;
  run.exit_code = process.waitExit(timeout);
  // Returns once the output has ended (the reader saw EOF): every line is captured.
  process.waitForLine([](const std::string&) { return false; }, 5s);
  run.lines = process.lines();
  run.output = process.output();
  return run;
}

}  // namespace triaged::test
