// Minimal command-line parser for the tessera subcommands: named options
// (--name VALUE, --name=VALUE, -n VALUE), flags and positionals, with a
// generated --help. Usage errors are reported, never thrown (exit code 2).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tessera::cli {

class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);

  // `names` like "-i,--input"; metavar empty for flags.
  void option(const std::string& names, const std::string& metavar, const std::string& help,
              std::optional<std::string> defaultValue = std::nullopt);
  void flag(const std::string& names, const std::string& help);
  void positional(const std::string& name, const std::string& help, bool required = true);
  void epilog(const std::string& text) { epilog_ = text; }

  // False on a usage error (message in error()) or when --help was asked
  // (helpRequested()).
  bool parse(const std::vector<std::string>& args);
  bool helpRequested() const { return help_; }
  const std::string& error() const { return error_; }
  std::string usage() const;

  bool has(const std::string& name) const;         // option given or defaulted, or flag set
  std::string get(const std::string& name) const;  // "" when absent
  // Parses an integer option; false with error() set when malformed.
  bool getInt(const std::string& name, long long* value, long long minimum, long long maximum);
  bool getDouble(const std::string& name, double* value);

 private:
  struct Spec {
    std::vector<std::string> names;
    std::string key;  // long name without dashes
    std::string metavar;
    std::string help;
    std::optional<std::string> defaultValue;
    bool isFlag = false;
  };
  struct Positional {
    std::string name;
    std::string help;
    bool required = true;
  };
  const Spec* find(const std::string& name) const;

  std::string command_, summary_, epilog_;
  std::vector<Spec> specs_;
  std::vector<Positional> positionals_;
  std::map<std::string, std::string> values_;
  bool help_ = false;
  std::string error_;
};

}  // namespace tessera::cli
