package dev.shoal.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The module boundaries, checked on the compiled classes of every module (this module depends on
 * all of them), so that crossing one fails the build:
 * <ul>
 *   <li>a package named {@code internal} is private to the package it sits in: only classes under
 *       that parent package use it ({@code dev.shoal.query.internal} only from {@code dev.shoal.query});
 *   <li>no Shoal code uses Kafka's non-public packages ({@code ..internals..}) or its
 *       {@code common.utils} classes, except the embedded broker of the test kit, which is Kafka's
 *       own server and must be handed its clock;
 *   <li>the data plane (index node, query service, enricher, ingest, ranker, encoder, the cluster
 *       client) never depends on the shard manager service;
 *   <li>the public API ({@code dev.shoal.api}) depends on nothing else of Shoal.
 * </ul>
 */
class ArchitectureTest {

  private static JavaClasses shoal;

  @BeforeAll
  static void importClasses() {
    shoal = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("dev.shoal");
  }

  @Test
  void theImportSawEveryModule() {
    for (String pkg : new String[] {"dev.shoal.api.v1", "dev.shoal.internal.v1", "dev.shoal.server", "dev.shoal.cluster",
        "dev.shoal.manager", "dev.shoal.encoder", "dev.shoal.encoder.cuda", "dev.shoal.ranker", "dev.shoal.ingest",
        "dev.shoal.enricher", "dev.shoal.indexnode", "dev.shoal.query", "dev.shoal.eval", "dev.shoal.testkit",
        "dev.shoal.bench", "dev.shoal.cli"}) {
      assertTrue(shoal.containPackage(pkg), "classes of " + pkg + " were not imported: the rules would pass vacuously");
    }
    assertTrue(shoal.size() > 300, "only " + shoal.size() + " classes imported");
  }

  @Test
  void internalPackagesAreUsedOnlyBelowTheirParent() {
    classes().should(new ArchCondition<>("use internal packages only from below their parent package") {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        c.getDirectDependenciesFromSelf().forEach(d -> {
          String target = d.getTargetClass().getPackageName();
          int i = target.indexOf(".internal");
          boolean internal = i > 0 && (target.length() == i + 9 || target.charAt(i + 9) == '.');
          if (!internal || !target.startsWith("dev.shoal.")) {
            return;
          }
          String parent = target.substring(0, i);
          String from = c.getPackageName();
          if (!(from.equals(parent) || from.startsWith(parent + "."))) {
            events.add(SimpleConditionEvent.violated(d, d.getDescription()));
          }
        });
      }
    }).check(shoal);
  }

  @Test
  void noKafkaInternalsOrCommonUtils() {
    noClasses().that(DescribedPredicate.not(JavaClass.Predicates.simpleName("EmbeddedKafka")))
        .should().dependOnClassesThat().resideInAnyPackage("org.apache.kafka..internals..",
            "org.apache.kafka.common.utils..")
        .check(shoal);
  }

  @Test
  void theDataPlaneNeverDependsOnTheShardManager() {
    noClasses().that().resideInAnyPackage("dev.shoal.indexnode..", "dev.shoal.query..", "dev.shoal.enricher..",
            "dev.shoal.ingest..", "dev.shoal.ranker..", "dev.shoal.encoder..", "dev.shoal.cluster..",
            "dev.shoal.server..", "dev.shoal.api..", "dev.shoal.internal..")
        .should().dependOnClassesThat().resideInAPackage("dev.shoal.manager..")
        .check(shoal);
  }

  @Test
  void theIndexNodeNeverDependsOnAnEncoder() {
    noClasses().that().resideInAPackage("dev.shoal.indexnode..")
        .should().dependOnClassesThat().resideInAnyPackage("dev.shoal.encoder..", "dev.shoal.ranker..", "ai.onnxruntime..",
            "jcuda..")
        .check(shoal);
  }

  @Test
  void thePublicApiDependsOnNothingElseOfShoal() {
    noClasses().that().resideInAPackage("dev.shoal.api..")
        .should().dependOnClassesThat(DescribedPredicate.describe("are Shoal classes outside dev.shoal.api",
            (JavaClass t) -> t.getPackageName().startsWith("dev.shoal.") && !t.getPackageName().startsWith("dev.shoal.api")))
        .check(shoal);
  }
}
